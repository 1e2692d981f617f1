import { Module } from '@nestjs/common';
import { KeysModule } from '../keys/keys.module.js';
import { CatalogService } from './catalog.service.js';
import { ModelsController } from './models.controller.js';

/** The model catalog (models.json), its prices and fallbacks, and `GET /v1/models`. */
@Module({
  imports: [KeysModule],
  controllers: [ModelsController],
  providers: [CatalogService],
  exports: [CatalogService],
})
export class CatalogModule {}
