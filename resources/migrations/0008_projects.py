"""Projects: the default project, and every profile, instance (with its snapshots), image,
alias and operation in it; names become unique per project."""

import django.db.models.deletion
from django.db import migrations, models

from resources.default_project import ensure_default_project


def create_default_project(apps, schema_editor):
    ensure_default_project(apps.get_model("resources", "Project"), schema_editor.connection.alias)


class Migration(migrations.Migration):

    dependencies = [
        ('resources', '0007_change_token'),
    ]

    operations = [
        migrations.CreateModel(
            name='Project',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=255, unique=True)),
                ('description', models.TextField(blank=True, default='')),
                ('config', models.JSONField(blank=True, default=dict)),
            ],
            options={
                'ordering': ['id'],
            },
        ),
        migrations.RunPython(create_default_project, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='imagealias',
            name='name',
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name='instance',
            name='name',
            field=models.CharField(max_length=255),
        ),
        migrations.AlterField(
            model_name='profile',
            name='name',
            field=models.CharField(max_length=255),
        ),
        migrations.AddField(
            model_name='image',
            name='project',
            field=models.ForeignKey(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='images', to='resources.project'),
        ),
        migrations.AddField(
            model_name='imagealias',
            name='project',
            field=models.ForeignKey(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='image_aliases', to='resources.project'),
        ),
        migrations.AddField(
            model_name='instance',
            name='project',
            field=models.ForeignKey(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='instances', to='resources.project'),
        ),
        migrations.AddField(
            model_name='operation',
            name='project',
            field=models.ForeignKey(blank=True, default=1, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='operations', to='resources.project'),
        ),
        migrations.AddField(
            model_name='profile',
            name='project',
            field=models.ForeignKey(default=1, on_delete=django.db.models.deletion.PROTECT, related_name='profiles', to='resources.project'),
        ),
        migrations.AddConstraint(
            model_name='imagealias',
            constraint=models.UniqueConstraint(fields=('project', 'name'), name='unique_image_alias_name'),
        ),
        migrations.AddConstraint(
            model_name='instance',
            constraint=models.UniqueConstraint(fields=('project', 'name'), name='unique_instance_name'),
        ),
        migrations.AddConstraint(
            model_name='profile',
            constraint=models.UniqueConstraint(fields=('project', 'name'), name='unique_profile_name'),
        ),
    ]
