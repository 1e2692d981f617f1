import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CONFIG, type Config } from '../config/config.js';
import { dataSourceOptions, initializeDataSource } from './data-source.js';

@Global()
@Module({
  imports: [
    TypeOrmModule.forRootAsync({
      inject: [CONFIG],
      useFactory: (config: Config) => dataSourceOptions(config),
      dataSourceFactory: async (options) => initializeDataSource(options!),
    }),
  ],
})
export class DatabaseModule {}
