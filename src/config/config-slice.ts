import type { Provider } from '@nestjs/common';
import { ConfigValidationError, EnvReader, type Env } from 'src/config/env-reader';

/**
 * One feature's settings: a name, an injection token and a loader that reads the environment through an
 * EnvReader (which collects problems instead of throwing). A feature defines its slice next to its module
 * and provides it with `provideConfig(slice)`; the composition root lists it by name in `CONFIG_SLICES`
 * (src/app.registrations.ts), the list `loadConfig` reads.
 */
export interface ConfigSlice<T> {
  readonly name: string;
  readonly KEY: symbol;
  load(env: EnvReader): T;
}

const slices: ConfigSlice<unknown>[] = [];

/**
 * Defines a slice. Names are unique; every slice defined is remembered only so that a test can check that the
 * composition root's list names them all (`definedConfigSlices`): what is loaded is the list given to
 * `loadConfig`, never whatever happens to have been imported.
 */
export function defineConfig<T>(name: string, load: (env: EnvReader) => T): ConfigSlice<T> {
  if (slices.some((s) => s.name === name)) throw new Error(`config slice "${name}" is defined twice`);
  const slice: ConfigSlice<T> = { name, KEY: Symbol(`config:${name}`), load };
  slices.push(slice);
  return slice;
}

/** Every slice's value, validated together: built once per app (see AppModule.forRoot). */
export class LoadedConfig {
  constructor(
    readonly env: Env,
    private readonly values: ReadonlyMap<ConfigSlice<unknown>, unknown>,
  ) {}

  get<T>(slice: ConfigSlice<T>): T {
    if (!this.values.has(slice)) {
      throw new Error(
        `config slice "${slice.name}" is not one of the slices the configuration was loaded from`,
      );
    }
    return this.values.get(slice) as T;
  }
}

/** Every slice defined so far, in the order defined. */
export function definedConfigSlices(): readonly ConfigSlice<unknown>[] {
  return [...slices];
}

/**
 * Reads `slices` (the app's: `loadAppConfig` in src/app.registrations.ts) from `env`, in order; throws one
 * ConfigValidationError listing every problem.
 */
export function loadConfig(env: Env, slices: readonly ConfigSlice<unknown>[]): LoadedConfig {
  const reader = new EnvReader(env);
  const values = new Map<ConfigSlice<unknown>, unknown>();
  for (const slice of slices) values.set(slice, slice.load(reader));
  if (reader.problems.length) throw new ConfigValidationError(reader.problems);
  return new LoadedConfig(env, values);
}

/** One slice on its own (unit tests): its value, or a ConfigValidationError with its problems. */
export function loadSlice<T>(slice: ConfigSlice<T>, env: Env): T {
  const reader = new EnvReader(env);
  const value = slice.load(reader);
  if (reader.problems.length) throw new ConfigValidationError(reader.problems);
  return value;
}

/** Makes `slice`'s value injectable as `@Inject(slice.KEY)` in the module that lists this provider. */
export function provideConfig<T>(slice: ConfigSlice<T>): Provider {
  return {
    provide: slice.KEY,
    inject: [LoadedConfig],
    useFactory: (config: LoadedConfig) => config.get(slice),
  };
}
