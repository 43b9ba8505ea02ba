// `certbound accounts`: the people of the local accounts table (accounts/local-accounts.ts) and
// their roles, for an operator on the machine that reaches the database: add a person (the
// password is read from stdin, never from the command line, where `ps` and shell history would
// keep it), set their roles (`admin` signs in to the console), disable or enable them. It writes
// the database directly (DATABASE_URL and DATABASE_SCHEMA, else the embedded database in
// DATA_DIR, which only one process may open: stop the server first). A role taken away or an
// account disabled ends that person's access to /admin/v1 at their next request.
import type { CliIo, Command, CommandGroup, FlagSpec } from './command.ts';
import { CommandError, EXIT, LateUsageError } from './admin/errors.ts';
import { dataDir } from './admin/settings.ts';
import { openStores } from '../storage/index.ts';
import type { SqlClient } from '../storage/sql.ts';
import { ACCOUNT_ROLES } from '../accounts/account-source.ts';
import { AccountInputError, createLocalAccount, findLocalAccountByUsername } from '../accounts/local-accounts.ts';
import { setAccountDisabled, setAccountRoles } from '../storage/postgres/accounts.ts';

const checkRole = (value: string) => (ACCOUNT_ROLES.includes(value) ? undefined : `is not one of: ${ACCOUNT_ROLES.join(', ')}`);
const MAX_PASSWORD_INPUT = 4096;

async function withSql<T>(io: CliIo, run: (sql: SqlClient) => Promise<T>): Promise<T> {
  const databaseUrl = io.env.DATABASE_URL || undefined;
  const stores = await openStores({
    dataDir: dataDir(io),
    ...(databaseUrl ? { databaseUrl, ...(io.env.DATABASE_SCHEMA ? { schema: io.env.DATABASE_SCHEMA } : {}) } : {}),
  }).catch((err: unknown) => {
    throw new CommandError(`cannot open the database (${databaseUrl ? 'DATABASE_URL' : `${dataDir(io)}/pglite: is the server running? stop it first`}): ${(err as Error).message}`);
  });
  try {
    return await run(stores.sql);
  } finally {
    await stores.close();
  }
}

/** The password: stdin's first line (a pipe or a file; a terminal would echo it). */
async function passwordFromStdin(io: CliIo): Promise<string> {
  const stdin = io.stdin ?? process.stdin;
  if ('isTTY' in stdin && stdin.isTTY) throw new LateUsageError('pipe the password on stdin (e.g. from your secret store); it is never taken from the command line');
  let text = '';
  for await (const chunk of stdin) {
    text += String(chunk);
    if (text.length > MAX_PASSWORD_INPUT) throw new LateUsageError(`the password on stdin is longer than ${MAX_PASSWORD_INPUT} characters`);
  }
  const password = text.split(/\r?\n/)[0];
  if (!password) throw new LateUsageError('no password on stdin');
  return password;
}

async function accountIdOf(sql: SqlClient, username: string): Promise<{ account_id: string; roles: string[] }> {
  const row = await findLocalAccountByUsername(sql, username);
  if (!row) throw new CommandError(`no account "${username.slice(0, 64)}"`, EXIT.notFound);
  return row;
}

/** A CommandError's message on stderr and its exit code (cli/admin/errors.ts), as the admin commands answer. */
async function exitCodeOf(io: CliIo, run: () => Promise<void>): Promise<number> {
  try {
    await run();
    return EXIT.ok;
  } catch (err) {
    if (!(err instanceof CommandError)) throw err;
    io.stderr(`certbound: ${err.message}\n`);
    return err.exitCode;
  }
}

const username = [{ name: 'username', help: 'the person\'s username (1-64 letters, digits or ._@+-)' }] as const;

const addFlags = {
  role: { type: 'strings', help: `a role to give (repeatable): ${ACCOUNT_ROLES.join(', ')}`, check: checkRole },
  name: { type: 'string', help: 'the `name` claim' },
  email: { type: 'string', help: 'the `email` claim' },
} as const satisfies Record<string, FlagSpec>;

const add: Command<typeof addFlags, 'username'> = {
  summary: 'add a person; the password is read from stdin',
  args: username,
  flags: addFlags,
  run: (values, io, args) => exitCodeOf(io, async () => {
    const password = await passwordFromStdin(io);
    const claims = { ...(values.name ? { name: values.name } : {}), ...(values.email ? { email: values.email } : {}) };
    const accountId = await withSql(io, async (sql) => createLocalAccount(sql, { username: args.username, password, claims, roles: values.role })
      .catch((err: unknown) => {
        if (err instanceof AccountInputError) throw new CommandError(err.message, /taken/.test(err.message) ? EXIT.conflict : EXIT.usage);
        throw err;
      }));
    io.stdout(`${JSON.stringify({ account_id: accountId, username: args.username, roles: values.role })}\n`);
  }),
};

const rolesFlags = {
  role: { type: 'strings', help: `the roles the person holds from now on (repeatable; none: no role): ${ACCOUNT_ROLES.join(', ')}`, check: checkRole },
} as const satisfies Record<string, FlagSpec>;

const roles: Command<typeof rolesFlags, 'username'> = {
  summary: 'set a person\'s roles (--role admin; no --role takes every role away)',
  args: username,
  flags: rolesFlags,
  run: (values, io, args) => exitCodeOf(io, async () => {
    const account = await withSql(io, async (sql) => {
      const row = await accountIdOf(sql, args.username);
      await setAccountRoles(sql, row.account_id, [...new Set(values.role)]);
      return row;
    });
    io.stdout(`${JSON.stringify({ account_id: account.account_id, username: args.username, roles: [...new Set(values.role)] })}\n`);
  }),
};

function switchCommand(disabled: boolean): Command<Record<string, never>, 'username'> {
  return {
    summary: disabled ? 'disable a person: no sign-in, and their console tokens stop working' : 'enable a disabled person again',
    args: username,
    flags: {},
    run: (_values, io, args) => exitCodeOf(io, async () => {
      const account = await withSql(io, async (sql) => {
        const row = await accountIdOf(sql, args.username);
        await setAccountDisabled(sql, row.account_id, disabled);
        return row;
      });
      io.stdout(`${JSON.stringify({ account_id: account.account_id, username: args.username, disabled })}\n`);
    }),
  };
}

export const accountCommands: CommandGroup = { add, roles, disable: switchCommand(true), enable: switchCommand(false) };
