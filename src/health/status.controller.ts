import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrors, SERVER_ERRORS } from '../common/openapi.js';
import { STATUS_EXAMPLE, StatusDto } from './status.dto.js';
import { StatusService } from './status.service.js';

@ApiTags('status')
@Controller('v1/status')
export class StatusController {
  constructor(private readonly status: StatusService) {}

  @Get()
  @ApiOperation({
    summary: 'Provider and model health (public)',
    description:
      'Each provider with its state, last probe and 24 h uptime, and each model with the state derived from ' +
      'its providers. No authentication.',
  })
  @ApiResponse({ status: 200, type: StatusDto, examples: { healthy: STATUS_EXAMPLE } })
  @ApiErrors(...SERVER_ERRORS)
  get(): Promise<StatusDto> {
    return this.status.status();
  }
}
