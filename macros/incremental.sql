{#-
  Incremental models rebuild in full by themselves when their logic changes.

  dbt's incremental models apply an edit of their SQL (or of a model upstream of them) to new rows only, until
  someone remembers `--full-refresh`: the old rows silently keep the old logic. Here every incremental model
  records a fingerprint of its logic when it is built: the checksums of its own file and of every model, seed
  and snapshot upstream of it. A later run whose fingerprint differs builds the model in full, as
  `--full-refresh` would; a daily run with the same code stays incremental. Macros and vars are not in the
  fingerprint: after editing a macro an incremental model uses, run `dbt build --full-refresh`.

  On DuckDB the fingerprints live in the table `c360_incremental_fingerprints` of the target schema (created by
  the project's on-run-start hook). On Athena the check is off: a deployment that changes an incremental model's
  SQL, or a model upstream of it, builds that model once with `--full-refresh` (README.md, "dbt").
-#}

{#- dbt's own should_full_refresh() (which is_incremental() and every incremental materialization call), plus the
    fingerprint check for incremental models. An explicit `full_refresh` config still wins both ways. -#}
{%- macro should_full_refresh() -%}
  {%- set config_full_refresh = config.get('full_refresh') -%}
  {%- if config_full_refresh is none -%}
    {%- set config_full_refresh = flags.FULL_REFRESH -%}
    {%- if not config_full_refresh and execute and model.resource_type == 'model'
          and model.config.materialized == 'incremental' -%}
      {%- set config_full_refresh = incremental_logic_changed() -%}
    {%- endif -%}
  {%- endif -%}
  {%- do return(config_full_refresh) -%}
{%- endmacro -%}

{#- The fingerprint of the running model's logic: an md5 over the checksums of its file and of every model, seed
    and snapshot upstream of it (sources are data, not logic). -#}
{%- macro incremental_fingerprint() -%}
  {%- set seen = [] -%}
  {%- set queue = [model.unique_id] -%}
  {%- for unique_id in queue -%}
    {%- if unique_id not in seen -%}
      {%- do seen.append(unique_id) -%}
      {%- set node = graph.nodes.get(unique_id) -%}
      {%- if node -%}
        {%- for parent in node.depends_on.nodes -%}
          {%- do queue.append(parent) -%}
        {%- endfor -%}
      {%- endif -%}
    {%- endif -%}
  {%- endfor -%}
  {%- set parts = [] -%}
  {%- for unique_id in seen | sort -%}
    {%- set node = graph.nodes.get(unique_id) -%}
    {%- if node -%}
      {%- do parts.append(unique_id ~ '=' ~ node.checksum.checksum) -%}
    {%- endif -%}
  {%- endfor -%}
  {{- return(local_md5(parts | join('\n'))) -}}
{%- endmacro -%}

{%- macro incremental_logic_changed() -%}
  {{- return(adapter.dispatch('incremental_logic_changed', 'c360')()) -}}
{%- endmacro -%}

{%- macro default__incremental_logic_changed() -%}
  {{- return(false) -}}
{%- endmacro -%}

{#- True when the table may hold rows built by other logic: its recorded fingerprint differs from this run's, or it
    has none (a table built before fingerprints existed). dbt asks only about tables that exist. -#}
{%- macro duckdb__incremental_logic_changed() -%}
  {%- set exists = run_query(
        "select count(*) from information_schema.tables where table_schema = '" ~ target.schema
        ~ "' and table_name = 'c360_incremental_fingerprints'").columns[0].values()[0] -%}
  {%- if exists == 0 -%}
    {{- return(true) -}}
  {%- endif -%}
  {%- set recorded = run_query(
        "select fingerprint from " ~ target.schema ~ ".c360_incremental_fingerprints where model = '"
        ~ model.unique_id ~ "'").columns[0].values() -%}
  {{- return(recorded | length == 0 or recorded[0] != incremental_fingerprint()) -}}
{%- endmacro -%}

{#- on-run-start: the tables of incremental state (DuckDB): the fingerprints, and the stage files each incremental
    staging copy holds (macros/stage_copy.sql). Created once, before any model runs, so that no two threads race
    to create them. -#}
{%- macro create_incremental_state() -%}
  {{- return(adapter.dispatch('create_incremental_state', 'c360')()) -}}
{%- endmacro -%}

{%- macro default__create_incremental_state() -%}
{%- endmacro -%}

{%- macro duckdb__create_incremental_state() -%}
  create table if not exists {{ target.schema }}.c360_incremental_fingerprints (
      model varchar primary key,
      fingerprint varchar not null,
      built_at timestamp not null
  );
  create table if not exists {{ target.schema }}.c360_stage_files (
      model varchar not null,
      file varchar not null,
      size bigint not null,
      last_modified timestamptz not null
  )
{%- endmacro -%}

{#- post-hook of every model: an incremental model records the fingerprint of the logic it was just built with.
    Other models render no SQL. -#}
{%- macro record_incremental_fingerprint() -%}
  {%- if execute and model.config.materialized == 'incremental' -%}
    {{- adapter.dispatch('record_incremental_fingerprint', 'c360')() -}}
  {%- endif -%}
{%- endmacro -%}

{%- macro default__record_incremental_fingerprint() -%}
{%- endmacro -%}

{%- macro duckdb__record_incremental_fingerprint() -%}
  insert or replace into {{ target.schema }}.c360_incremental_fingerprints
  values ('{{ model.unique_id }}', '{{ incremental_fingerprint() }}', current_timestamp)
{%- endmacro -%}
