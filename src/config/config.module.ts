import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { APP_CONFIG, loadAppConfig, type Env } from 'src/config/app-config';

/**
 * Validates the environment once (through @nestjs/config's `load`) and exposes the typed result as
 * `APP_CONFIG`. The environment is passed in, so tests boot the app with their own variables.
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(env: Env): DynamicModule {
    const config = loadAppConfig(env);
    return {
      module: AppConfigModule,
      imports: [NestConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ app: config })] })],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
