/** Options of `nx g nx-fleet:init`, as schema.json declares them. */
export interface InitGeneratorSchema {
  url: string;
  /** `--no-verify` sets it to false. */
  verify?: boolean;
}
