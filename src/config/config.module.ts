import { Global, Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule as NestConfigModule } from '@nestjs/config';
import { APP_CONFIG, type AppConfig } from 'src/config/app-config';

/**
 * Exposes the configuration AppModule validated (`loadAppConfig`) as `APP_CONFIG`, and to @nestjs/config's
 * ConfigService under `app`. It is passed in, so tests boot the app with their own variables.
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppConfigModule,
      imports: [NestConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ app: config })] })],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
