import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { StatusDto } from './status.dto.js';
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
  @ApiResponse({ status: 200, type: StatusDto })
  get(): Promise<StatusDto> {
    return this.status.status();
  }
}
