import { createSecretKey } from 'node:crypto';
import { type DynamicModule, type ExecutionContext, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { ScheduleModule } from '@nestjs/schedule';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { AccountsModule } from './accounts/accounts.module.js';
import { SigningSecretModule } from './accounts/signing-secret.module.js';
import { AdminModule } from './admin/admin.module.js';
import { BillingModule } from './billing/billing.module.js';
import { AlertsModule } from './billing/alerts/alerts.module.js';
import { CatalogModule } from './catalog/catalog.module.js';
import { ChatModule } from './chat/chat.module.js';
import { Clock } from './common/clock.js';
import { SigningSecret } from './common/signing-secret.js';
import { Instance } from './common/instance.js';
import { OpenAiExceptionFilter } from './common/exception.filter.js';
import { CONFIG, type Config } from './config/config.js';
import { DatabaseModule } from './database/database.module.js';
import { KeysModule } from './keys/keys.module.js';
import { MailModule } from './mail/mail.module.js';
import { OpsModule } from './ops/ops.module.js';
import { keyLimit } from './rate-limit/rate-limit.guard.js';
import { MemoryWindowStorage, RedisWindowStorage } from './rate-limit/window-storage.js';
import { RedisService } from './redis/redis.service.js';
import { UsageModule } from './usage/usage.module.js';

@Global()
@Module({})
class ConfigModule {
  static forRoot(config: Config): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: CONFIG, useValue: config }], exports: [CONFIG] };
  }
}

@Global()
@Module({ providers: [RedisService], exports: [RedisService] })
class RedisModule {}

/** The clock every service reads time from (a `ManualClock` in tests that move time), and this instance's id. */
@Global()
@Module({})
class RuntimeModule {
  static forRoot(clock: Clock): DynamicModule {
    const providers = [
      { provide: Clock, useValue: clock },
      { provide: Instance, useValue: new Instance() },
    ];
    return { module: RuntimeModule, providers, exports: [Clock, Instance] };
  }
}

/** Paths and header names that never reach a log line. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
];

@Module({})
export class AppModule {
  static forRoot(config: Config, clock: Clock, logStream?: DestinationStream): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        RuntimeModule.forRoot(clock),
        LoggerModule.forRoot({
          pinoHttp: [
            {
              level: config.logLevel,
              redact: { paths: REDACT, censor: '[redacted]' },
              // Requests are logged by the app's onResponse hook (route, status, duration): never bodies.
              autoLogging: false,
            },
            logStream ?? process.stdout,
          ],
        }),
        DatabaseModule,
        RedisModule,
        ScheduleModule.forRoot(),
        SigningSecretModule,
        JwtModule.registerAsync({
          global: true,
          inject: [SigningSecret],
          // A key object, made once: given the string, jsonwebtoken first tries it as a public key and catches the
          // failure, about 0.8 ms of every session-authenticated request.
          useFactory: (secret: SigningSecret) => ({
            secret: createSecretKey(Buffer.from(secret.value, 'utf8')),
          }),
        }),
        MailModule,
        ThrottlerModule.forRootAsync({
          inject: [RedisService, Clock],
          useFactory: (redis: RedisService, clock: Clock) => ({
            // One window; each key's limit is its plan's (config.rateLimit.perPlan), resolved per request.
            throttlers: [
              {
                name: 'default',
                ttl: config.rateLimit.windowMs,
                limit: (context: ExecutionContext) => keyLimit(config, context),
              },
            ],
            storage: redis.client ? new RedisWindowStorage(redis, clock) : new MemoryWindowStorage(clock),
          }),
        }),
        OpsModule,
        AccountsModule,
        KeysModule,
        CatalogModule,
        BillingModule,
        AlertsModule,
        ChatModule,
        UsageModule,

        AdminModule,
      ],
      providers: [{ provide: APP_FILTER, useClass: OpenAiExceptionFilter }],
    };
  }
}
