{#-
  DuckDB's `external` materialization (the marts: Parquet files in the lake's analytics zone), as dbt-duckdb 1.11.1
  ships it (Apache 2.0) with one change: the rows are staged in a temporary table, not in a table of the database
  file.

  dbt-duckdb writes a mart's rows into a table of the DuckDB file, copies that table to Parquet, puts a view over
  the files and drops the table. Writing into the file (its compression, its blocks, the commit) cost most of a
  mart's time for nothing kept: fct_web_sessions' 500,000 rows at scale 10 took 1.2-2.7 s into the file against
  0.2 s into a temporary table, which DuckDB keeps in memory (and spills to its temporary directory beyond
  `memory_limit`). The table lives in the connection of the model's thread, for the statements of this
  materialization only, and is dropped at its end. The contract is checked as before (`create_table_as` asserts
  the query's columns and types against it; the project declares no column constraints, which DuckDB's temporary
  tables could not hold). Everything else (the empty-relation row, the view, the renames, docs, grants, hooks, Glue
  registration) is dbt-duckdb's. Athena builds its marts with its own `table` materialization: none of this
  applies there.
-#}
{% materialization external, adapter="duckdb", supported_languages=['sql', 'python'] %}

  {%- set location = render(config.get('location', default=external_location(this, config))) -%}
  {%- set rendered_options = render_write_options(config) -%}
  {%- set write_options = adapter.external_write_options(location, rendered_options) -%}

  {%- set format = config.get('format') -%}
  {%- set allowed_formats = ['csv', 'parquet', 'json'] -%}
  {%- if format -%}
      {%- if format not in allowed_formats -%}
          {{ exceptions.raise_compiler_error("Invalid format: " ~ format ~ ". Allowed formats are: " ~ allowed_formats | join(', ')) }}
      {%- endif -%}
  {%- else -%}
    {#- read the files back in the format that external_write_options picked for the write -#}
    {%- set format = rendered_options['format'] | lower -%}
    {%- set format = format if format in allowed_formats else 'parquet' -%}
  {%- endif -%}

  {%- set read_location = adapter.external_read_location(location, rendered_options) -%}
  {%- set read_options = {
        'parquet': config.get('parquet_read_options', {'union_by_name': False}),
        'json': config.get('json_read_options', {'auto_detect': True}),
        'csv': config.get('csv_read_options', {'auto_detect': True}),
      }[format] -%}
  {#- DuckDB detects compression from a lower-case extension only, so pass the write compression to the readers -#}
  {%- if format != 'parquet' and rendered_options.get('compression') and 'compression' not in read_options -%}
    {%- set read_options = dict(read_options, compression=rendered_options['compression']) -%}
  {%- endif -%}

  -- set language - python or sql
  {%- set language = model['language'] -%}

  {%- set target_relation = this.incorporate(type='view') %}

  -- Continue as normal materialization
  {%- set existing_relation = load_cached_relation(this) -%}
  {#- The one change: a temporary table (temp.main, this connection only, a unique name), not one in the file. -#}
  {%- set temp_relation = make_temp_relation(this.incorporate(type='table'), suffix='__dbt_tmp') -%}
  {%- set intermediate_relation =  make_intermediate_relation(target_relation, suffix='__dbt_int') -%}
  -- the intermediate_relation should not already exist in the database; get_relation
  -- will return None in that case. Otherwise, we get a relation that we can drop
  -- later, before we try to use this name for the current operation
  {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
  {%- set backup_relation_type = 'table' if existing_relation is none else existing_relation.type -%}
  {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
  -- as above, the backup_relation should not already exist
  {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
  -- grab current tables grants config for comparision later on
  {% set grant_config = config.get('grants') %}

  -- drop the temp relations if they exist already in the database
  {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
  {{ drop_relation_if_exists(preexisting_backup_relation) }}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}

  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  -- build model
  {% call statement('create_table', language=language) -%}
    {{- create_table_as(True, temp_relation, compiled_code, language) }}
  {%- endcall %}

  -- check if relation is empty
  {%- set count_query -%}
    select count(*) as row_count from {{ temp_relation }}
  {%- endset -%}
  {%- set row_count = run_query(count_query) -%}
  {%- set columns = get_columns_in_relation(temp_relation) if row_count[0][0] == 0 else [] -%}

  -- if relation is empty, write a non-empty table with column names and null values
  {% call statement('main', language='sql') -%}
    {% if row_count[0][0] == 0 %}
    insert into {{ temp_relation }} values (
      {%- for col in columns -%}
      NULL,
      {%- endfor -%}
    )
    {% endif %}
  {%- endcall %}

  -- write a temp relation into file
  {{ write_to_file(temp_relation, location, write_options) }}

  -- create a view on top of the location
  {% call statement('main', language='sql') -%}
    create or replace view {{ intermediate_relation }} as (
      select * from read_{{ format }}('{{ read_location }}'
      {%- for key, value in read_options.items() -%}
        , {{ key }}=
        {%- if value is string -%}
          '{{ value }}'
        {%- else -%}
          {{ value }}
        {%- endif -%}
      {%- endfor -%}
      )
      -- if relation is empty, filter by all columns having null values
      {% if row_count[0][0] == 0 %}
        where 1
        {%- for col in columns -%}
          {{ '' }} AND "{{ col.column }}" is not NULL
        {%- endfor -%}
      {% endif %}
    );
  {%- endcall %}

  -- cleanup
  {% if existing_relation is not none %}
      {{ adapter.rename_relation(existing_relation, backup_relation) }}
  {% endif %}

  {{ adapter.rename_relation(intermediate_relation, target_relation) }}

  {{ run_hooks(post_hooks, inside_transaction=True) }}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}

  {% do persist_docs(target_relation, model) %}

  -- `COMMIT` happens here
  {{ adapter.commit() }}

  -- finally, drop the existing/backup relation after the commit
  {{ drop_relation_if_exists(backup_relation) }}
  {% call statement('drop_temp_relation') -%}
    drop table if exists {{ temp_relation }}
  {%- endcall %}

  -- register table into glue
  {%- set plugin_name = config.get('plugin') -%}
  {%- set glue_register = config.get('glue_register', default=false) -%}
  {% if plugin_name is not none or glue_register is true %}
    {% if glue_register %}
      {# legacy hack to set the glue database name, deprecate this #}
      {%- set plugin_name = 'glue|' ~ config.get('glue_database', 'default') -%}
    {% endif %}
    {% do store_relation(plugin_name, target_relation, location, format, config) %}
  {% endif %}

  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}

{% endmaterialization %}
