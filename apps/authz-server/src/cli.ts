// The `certbound` command: a dispatcher over command groups (`certbound <group> <command> --flags`).
// Each group lives with the code it drives (src/pki/commands.ts) and declares its flags; this file
// parses and checks them, so commands receive typed values and every usage error looks the same.
// Exit codes: 0 success, 1 the command failed, 2 usage error.
import { pkiCommands } from './pki/commands.ts';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** the CLI reads DATA_DIR from here; the server reads its env in config.ts */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
}

export interface FlagSpec {
  /** 'strings' may repeat; 'integer' is a positive whole number */
  type: 'string' | 'strings' | 'integer';
  required?: boolean;
  help: string;
  /** a problem with one value, or undefined when it is fine */
  check?: (value: string) => string | undefined;
}
type Scalar<S extends FlagSpec> = S['type'] extends 'integer' ? number : string;
export type FlagValues<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K]['type'] extends 'strings' ? string[] : F[K] extends { required: true } ? Scalar<F[K]> : Scalar<F[K]> | undefined;
};

export interface Command<F extends Record<string, FlagSpec> = Record<string, FlagSpec>> {
  summary: string;
  flags: F;
  run(flags: FlagValues<F>, io: CliIo): Promise<number>;
}
/** A group maps command names to commands (method syntax keeps `run` bivariant, so any Command<F> fits). */
export type CommandGroup = Record<string, Command<Record<string, FlagSpec>>>;

const GROUPS: Record<string, { summary: string; commands: CommandGroup }> = {
  pki: { summary: 'development CA and client certificates', commands: pkiCommands },
};

class UsageError extends Error {}

const defaultIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: process.env,
  cwd: process.cwd(),
};

export async function main(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  const [groupName, commandName, ...rest] = argv;
  const group = groupName === undefined ? undefined : GROUPS[groupName];
  if (groupName === undefined || groupName === '--help' || groupName === '-h' || groupName === 'help') {
    io[groupName === undefined ? 'stderr' : 'stdout'](topUsage());
    return groupName === undefined ? 2 : 0;
  }
  if (!group) return usageFailure(io, `unknown command group "${groupName}"`, topUsage());
  const command = commandName === undefined ? undefined : group.commands[commandName];
  if (commandName === undefined || commandName === '--help' || commandName === '-h') {
    io[commandName === undefined ? 'stderr' : 'stdout'](groupUsage(groupName, group.commands));
    return commandName === undefined ? 2 : 0;
  }
  if (!command) return usageFailure(io, `unknown command "${groupName} ${commandName}"`, groupUsage(groupName, group.commands));
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(commandUsage(`${groupName} ${commandName}`, command));
    return 0;
  }
  let flags;
  try {
    flags = parseFlags(rest, command.flags);
  } catch (error) {
    if (error instanceof UsageError) return usageFailure(io, error.message, commandUsage(`${groupName} ${commandName}`, command));
    throw error;
  }
  try {
    // parseFlags produced exactly the shape FlagValues<typeof command.flags> describes
    return await command.run(flags as FlagValues<Record<string, FlagSpec>>, io);
  } catch (error) {
    io.stderr(`certbound: ${(error as Error).message}\n`);
    return 1;
  }
}

function parseFlags(args: readonly string[], specs: Record<string, FlagSpec>): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) if (spec.type === 'strings') values[name] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const spec = specs[name];
    if (!spec) throw new UsageError(`unknown option --${name}`);
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
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && values[name] === undefined) throw new UsageError(`--${name} is required`);
  }
  return values;
}

function usageFailure(io: CliIo, message: string, usage: string): number {
  io.stderr(`certbound: ${message}\n\n${usage}`);
  return 2;
}

function topUsage(): string {
  const lines = Object.entries(GROUPS).map(([name, group]) => `  ${name.padEnd(18)}${group.summary}`);
  return `usage: certbound <group> <command> [options]\n\ngroups:\n${lines.join('\n')}\n\nRun "certbound <group> --help" for its commands.\n`;
}

function groupUsage(groupName: string, commands: CommandGroup): string {
  const lines = Object.entries(commands).map(([name, command]) => `  ${name.padEnd(18)}${command.summary}`);
  return `usage: certbound ${groupName} <command> [options]\n\ncommands:\n${lines.join('\n')}\n`;
}

function commandUsage(path: string, command: Command): string {
  const lines = Object.entries(command.flags).map(([name, spec]) => {
    const flag = `--${name}${spec.type === 'integer' ? ' N' : ' VALUE'}`;
    const note = spec.required ? ' (required)' : spec.type === 'strings' ? ' (repeatable)' : '';
    return `  ${flag.padEnd(24)}${spec.help}${note}`;
  });
  return `usage: certbound ${path} [options]\n\n${command.summary}\n\noptions:\n${lines.join('\n')}\n`;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));
