/**
 * How library code tells the user something. Nothing below the CLI prints directly:
 * the CLI (or the tasks runner, which is Nx's CLI) decides where lines go.
 */
export interface Reporter {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  /** Verbose details, shown only when FLEET_VERBOSE=true. */
  debug(message: string): void;
}

export const silentReporter: Reporter = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  debug: () => undefined,
};

/** A reporter writing `[fleet] …` lines to a stream (stderr by default, so stdout stays Nx's). */
export function streamReporter(
  stream: NodeJS.WritableStream = process.stderr,
  options: { verbose?: boolean; prefix?: string } = {},
): Reporter {
  const prefix = options.prefix ?? '[fleet]';
  const write = (level: string, message: string): void => {
    const tag = level ? `${prefix} ${level}:` : prefix;
    stream.write(`${tag} ${message}\n`);
  };
  return {
    info: (m) => write('', m),
    warn: (m) => write('warning', m),
    error: (m) => write('error', m),
    debug: (m) => {
      if (options.verbose) write('debug', m);
    },
  };
}
