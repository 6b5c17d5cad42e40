import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { Project } from 'src/projects/project.entity';
import { ProjectsController } from 'src/projects/projects.controller';
import { ProjectsRepository } from 'src/projects/projects.repository';
import { ProjectsService } from 'src/projects/projects.service';
import { UsersModule } from 'src/users/users.module';

/** A developer's projects, which group their API keys; every user has a default one. */
@Module({
  imports: [TypeOrmModule.forFeature([Project]), UsersModule],
  controllers: [ProjectsController],
  providers: [ProjectsRepository, ProjectsService],
  exports: [ProjectsService],
})
export class ProjectsModule {}
