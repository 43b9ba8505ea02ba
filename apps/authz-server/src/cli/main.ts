// The `certbound` command: a dispatcher over command groups (`certbound <group> <command> --flags`).
// Each group lives with the code it drives (src/cli/pki.ts) and declares its flags; this file
// parses and checks them, so commands receive typed values and every usage error looks the same.
// Exit codes (EXIT_CODES_HELP): 0 success, 1 the command failed, 2 usage error, 3 not found,
// 4 conflict or changed since read (the admin commands, src/cli/admin/).
import { pkiCommands } from './pki.ts';
import { clientCommands } from './admin/clients.ts';
import { certificateCommands } from './admin/certificates.ts';
import { resourceServerCommands } from './admin/resource-servers.ts';
import { doctorCommand } from './doctor.ts';
import { accountCommands } from './accounts.ts';
import { enrollCommand } from './enroll.ts';
import { renewCommand } from './renew.ts';

import type { CliIo, Command, CommandGroup, FlagSpec, FlagValues } from './command.ts';

export type { CliIo } from './command.ts';

const GROUPS: Record<string, { summary: string; commands: CommandGroup }> = {
  pki: { summary: 'development CA and client certificates', commands: pkiCommands },
  clients: { summary: 'OAuth clients (/admin/v1/clients)', commands: clientCommands },
  certs: { summary: 'client certificates: add, list, retire, expiring', commands: certificateCommands },
  'resource-servers': { summary: 'resource servers: RFC 8707 audiences and their scopes', commands: resourceServerCommands },
  accounts: { summary: 'people who sign in (local accounts) and their roles: admin uses the console', commands: accountCommands },
};

/** Commands of their own, without a group: `certbound doctor --cert FILE`. */
const COMMANDS: Record<string, Command> = {
  doctor: doctorCommand,
  enroll: enrollCommand,
  renew: renewCommand,
};

/** Shown by `certbound --help`: scripts may rely on these. */
const EXIT_CODES_HELP = [
  '  0  success',
  '  1  the command failed: the server refused it (its error and error_description on stderr),',
  '     or a network, TLS or file problem',
  '  2  usage error: unknown command or option, missing or malformed value',
  '  3  not found: the client, certificate or resource server does not exist',
  '  4  conflict: already exists, still in use, or changed by someone else since it was read',
].join('\n');

class UsageError extends Error {}

const defaultIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
};

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  const group = groupName === undefined ? undefined : GROUPS[groupName];
  if (groupName === undefined || groupName === '--help' || groupName === '-h' || groupName === 'help') {
    io[groupName === undefined ? 'stderr' : 'stdout'](topUsage());
    return groupName === undefined ? 2 : 0;
  }
  if (Object.hasOwn(COMMANDS, groupName)) return runCommand(groupName, COMMANDS[groupName], argv.slice(1), io);
  if (!group) return usageFailure(io, `unknown command group "${groupName}"`, topUsage());
  const command = commandName === undefined ? undefined : group.commands[commandName];
  if (commandName === undefined || commandName === '--help' || commandName === '-h') {
    io[commandName === undefined ? 'stderr' : 'stdout'](groupUsage(groupName, group.commands));
    return commandName === undefined ? 2 : 0;
  }
  if (!command) return usageFailure(io, `unknown command "${groupName} ${commandName}"`, groupUsage(groupName, group.commands));
  return runCommand(`${groupName} ${commandName}`, command, rest, io);
}

async function runCommand(path: string, command: Command, rest: readonly string[], io: CliIo): Promise<number> {
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(commandUsage(path, command));
    return 0;
  }
  let flags;
  let args;
  try {
    ({ flags, args } = parseArguments(rest, command));
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error.message, commandUsage(path, command));
    throw error;
  }
  try {
    // parseArguments produced exactly the shape FlagValues<typeof command.flags> describes
    return await command.run(flags as FlagValues<Record<string, FlagSpec>>, io, args);
  } catch (error) {
    io.stderr(`certbound: ${(error as Error).message}\n`);
    return 1;
  }
}

function parseArguments(args: readonly string[], command: Command): { flags: Record<string, unknown>; args: Record<string, string> } {
  const specs = command.flags;
  const argSpecs = command.args ?? [];
  const values: Record<string, unknown> = {};
  const positional: Record<string, string> = {};
  let given = 0;
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type === 'strings') values[name] = [];
    if (spec.type === 'boolean') values[name] = false;
  }
  for (let i = 0, optionsEnd = false; i < args.length; i++) {
    const arg = args[i];
    // `--` ends the options: a positional may start with a dash (an x5t#S256 can)
    if (arg === '--' && !optionsEnd) {
      optionsEnd = true;
      continue;
    }
    if (optionsEnd || !arg.startsWith('--')) {
      const argSpec = argSpecs[given++];
      if (!argSpec) throw new UsageError(`unexpected argument "${arg}"`);
      positional[argSpec.name] = arg;
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name}`);
    if (spec.type === 'boolean') {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      values[name] = true;
      continue;
    }
    const value = eq === -1 ? args[++i] : arg.slice(eq + 1);
    if (value === undefined || (eq === -1 && value.startsWith('--'))) throw new UsageError(`--${name} needs a value`);
    const problem = spec.check?.(value);
    if (problem) throw new UsageError(`--${name} ${value}: ${problem}`);
    if (spec.type === 'strings') (values[name] as string[]).push(value);
    else if (values[name] !== undefined) throw new UsageError(`--${name} given twice`);
    else if (spec.type === 'integer') {
      if (!/^[1-9]\d{0,6}$/.test(value)) throw new UsageError(`--${name} must be a positive whole number, got "${value}"`);
      values[name] = Number(value);
    } else values[name] = value;
  }
  const missing = argSpecs[given];
  if (missing) throw new UsageError(`missing <${missing.name}>`);
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return { flags: values, args: positional };
}

function usageFailure(io: CliIo, message: string, usage: string): number {
  io.stderr(`certbound: ${message}\n\n${usage}`);
  return 2;
}

function topUsage(): string {
  const lines = Object.entries(GROUPS).map(([name, group]) => `  ${name.padEnd(18)}${group.summary}`);
  const commands = Object.entries(COMMANDS).map(([name, command]) => `  ${name.padEnd(18)}${command.summary}`);
  return `usage: certbound <group> <command> [options]\n       certbound <command> [options]\n\ngroups:\n${lines.join('\n')}\n\ncommands:\n${commands.join('\n')}\n\nRun "certbound <group> --help" for its commands.\n\nexit codes:\n${EXIT_CODES_HELP}\n`;
}

function groupUsage(groupName: string, commands: CommandGroup): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(18)}${command.summary}`);
  return `usage: certbound ${groupName} <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

function commandUsage(path: string, command: Command): string {
  const argSpecs = command.args ?? [];
  const args = argSpecs.map((arg) => ` <${arg.name}>`).join('');
  const flags = Object.entries(command.flags).map(([name, spec]) => [`--${name}${spec.type === 'integer' ? ' N' : spec.type === 'boolean' ? '' : ' VALUE'}`, spec] as const);
  const width = Math.max(24, ...flags.map(([flag]) => flag.length + 2));
  const argLines = argSpecs.map((arg) => `  ${`<${arg.name}>`.padEnd(width)}${arg.help}`);
  const lines = flags.map(([flag, spec]) => {
    const note = spec.required ? ' (required)' : spec.type === 'strings' ? ' (repeatable)' : '';
    return `  ${flag.padEnd(width)}${spec.help}${note}`;
  });
  const argSection = argLines.length ? `arguments:\n${argLines.join('\n')}\n\n` : '';
  return `usage: certbound ${path}${args} [options]\n\n${command.summary}\n\n${argSection}options:\n${lines.join('\n')}\n`;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
