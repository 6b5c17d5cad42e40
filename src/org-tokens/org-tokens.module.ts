import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { OrgToken } from 'src/org-tokens/org-token.entity';
import { OrgTokensController } from 'src/org-tokens/org-tokens.controller';
import { OrgTokensService } from 'src/org-tokens/org-tokens.service';

@Module({
  imports: [TypeOrmModule.forFeature([OrgToken])],
  controllers: [OrgTokensController],
  providers: [OrgTokensService],
  exports: [OrgTokensService],
})
export class OrgTokensModule {}
