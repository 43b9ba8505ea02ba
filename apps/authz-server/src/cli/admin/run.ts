// The frame of every admin command: resolve the connection, run, and turn a CommandError into
// "certbound: <message>" on stderr with its exit code (errors.ts). Anything else is a bug and
// reaches the dispatcher, which prints it and exits 1.
import type { CliIo } from '../command.ts';
import { CommandError, EXIT } from './errors.ts';
import { connectAdminApi, type AdminApi } from './api.ts';
import { settingsOf, type ConnectionFlags } from './settings.ts';
import { printable } from './output.ts';

export async function runAdmin(io: CliIo, flags: ConnectionFlags, body: (api: AdminApi) => Promise<void>): Promise<number> {
  try {
    await body(connectAdminApi(() => settingsOf(flags, io)));
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    io.stderr(`certbound: ${printable(error.message)}\n`);
    return error.exitCode;
  }
}
