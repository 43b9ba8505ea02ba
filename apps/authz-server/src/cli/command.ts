// The shape of a `certbound` command: its flags, positional arguments and the io it runs with.
// Command groups (pki.ts, admin/) import these types; main.ts dispatches over the groups.

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** the CLI reads DATA_DIR from here; the server reads its env in config.ts */
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  /** what `--metadata -` and `--pem -` read; process.stdin when absent */
  stdin?: AsyncIterable<string | Buffer>;
}

export interface FlagSpec {
  /** 'strings' may repeat; 'integer' is a positive whole number; 'boolean' takes no value (false when absent) */
  type: 'string' | 'strings' | 'integer' | 'boolean';
  required?: boolean;
  help: string;
  /** a problem with one value, or undefined when it is fine */
  check?: (value: string) => string | undefined;
}
type Scalar<S extends FlagSpec> = S['type'] extends 'integer' ? number : string;
export type FlagValues<F extends Record<string, FlagSpec>> = {
  [K in keyof F]: F[K]['type'] extends 'strings' ? string[] : F[K]['type'] extends 'boolean' ? boolean : F[K] extends { required: true } ? Scalar<F[K]> : Scalar<F[K]> | undefined;
};

/** A positional argument: every declared one is required, in order (`certbound clients show <client_id>`). */
export interface ArgSpec<A extends string = string> {
  name: A;
  help: string;
}

export interface Command<F extends Record<string, FlagSpec> = Record<string, FlagSpec>, A extends string = string> {
  summary: string;
  args?: readonly ArgSpec<A>[];
  flags: F;
  run(flags: FlagValues<F>, io: CliIo, args: Readonly<Record<A, string>>): Promise<number>;
}
/** A group maps command names to commands (method syntax keeps `run` bivariant, so any Command<F> fits). */
export type CommandGroup = Record<string, Command<Record<string, FlagSpec>>>;
