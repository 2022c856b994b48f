/** Where the coordinator's log lines go; the CLI decides how to print them. */
export interface Reporter {
  info(message: string, fields?: Readonly<Record<string, unknown>>): void;
  warn(message: string, fields?: Readonly<Record<string, unknown>>): void;
  error(message: string, fields?: Readonly<Record<string, unknown>>): void;
}

export const silentReporter: Reporter = {
  info: (): void => undefined,
  warn: (): void => undefined,
  error: (): void => undefined,
};
