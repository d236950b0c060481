{#-
  Incremental copies of large stage tables into DuckDB (the staging models of transactions and GA hits).

  A staging model on DuckDB is a table: a copy of its stage Parquet files, read once per build instead of once per
  consumer and per data test. For the two largest stage tables that copy was the largest node of a daily build
  (7 s each at scale 10, 70 s at scale 100), although a day changes one or two of their partitions. As incremental
  models they copy only the partitions whose files changed since the last build:

  - the stage files (name, size, modification time) copied into each model are recorded in the table
    `c360_stage_files` of the target schema, by a post-hook, in the same transaction as the copy;
  - on the next build, a partition (the hive folder `<partition_by>=<value>/`) is copied again when any of its
    files is new, changed or gone: a pre-hook deletes its rows, the model reads its current files;
  - a file outside any partition folder, or a table with no files recorded (built by `dbt build --empty`, which
    records none), makes the copy a whole one: every row deleted, every file read.

  The copy is therefore always what a full copy of the current stage gives; an edit of the model's SQL rebuilds
  it in full (macros/incremental.sql). On Athena these models are views over the Glue tables and none of this
  applies: the macros render the plain source.
-#}

{#- The stage folder of a table (as the sources' external_location reads it) and the glob of its files. -#}
{%- macro stage_files_glob(table_name) -%}
  {{- env_var('C360_LAKE', 'lake') ~ '/stage/' ~ table_name ~ '/**/*.parquet' -}}
{%- endmacro -%}

{#- The value of the hive partition `<partition_by>=<value>/` a stage file lies in; none outside any partition
    folder (or for an escaped value, which the copy does not try to match). -#}
{%- macro stage_partition_value(file, partition_by) -%}
  {%- set marker = '/' ~ partition_by ~ '=' -%}
  {%- set folder = file.rsplit('/', 1)[0] -%}
  {%- if marker in folder -%}
    {%- set value = folder.rsplit(marker, 1)[1].split('/')[0] -%}
    {{- return(none if '%' in value else value) -}}
  {%- endif -%}
  {{- return(none) -}}
{%- endmacro -%}

{#- What this build must copy: {'whole': bool (every row goes, every file is read), 'partitions': [values whose
    rows go], 'files': [the files of those partitions]}. For an incremental run of a DuckDB model only. One
    listing of the stage files: each current file (changed or not since it was recorded) and each recorded file
    that is gone or changed. -#}
{%- macro stage_copy_plan(table_name, partition_by) -%}
  {%- set listing = run_query(
        "with current_files as (select filename as file, size, last_modified from read_blob('"
        ~ stage_files_glob(table_name) ~ "')),"
        ~ " copied as (select file, size, last_modified from " ~ target.schema ~ ".c360_stage_files"
        ~ " where model = '" ~ model.unique_id ~ "')"
        ~ " select file, true as is_current, false as changed"
        ~ " from (select * from current_files intersect select * from copied)"
        ~ " union all select file, true, true from (select * from current_files except select * from copied)"
        ~ " union all select file, false, true from (select * from copied except select * from current_files)") -%}
  {%- set partitions = [] -%}
  {%- set whole = [] -%}
  {%- set recorded = [] -%}
  {%- set current = [] -%}
  {%- for row in listing.rows -%}
    {%- set value = stage_partition_value(row[0], partition_by) -%}
    {%- if row[1] -%}
      {%- do current.append((row[0], value)) -%}
    {%- endif -%}
    {%- if not row[1] or not row[2] -%}
      {%- do recorded.append(row[0]) -%}
    {%- endif -%}
    {%- if row[2] and value is none -%}
      {%- do whole.append(row[0]) -%}
    {%- elif row[2] and value not in partitions -%}
      {%- do partitions.append(value) -%}
    {%- endif -%}
  {%- endfor -%}
  {%- if not recorded -%}
    {%- do whole.append('no stage files recorded for the table') -%}
  {%- endif -%}
  {%- set files = [] -%}
  {%- if not whole -%}
    {%- for file, value in current | sort -%}
      {%- if value in partitions -%}
        {%- do files.append(file) -%}
      {%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {{- return({'whole': whole | length > 0, 'partitions': partitions | sort, 'files': files}) -}}
{%- endmacro -%}

{#- The relation a staging model reads: on DuckDB's incremental runs, only the files of the changed partitions
    (none: an empty relation with the model's columns); otherwise, and for a whole copy, the whole source, as
    source_or_empty gives it. -#}
{%- macro stage_copy_source(source_name, table_name, columns, partition_by) -%}
  {%- if target.type == 'duckdb' and execute and flags.WHICH in ('run', 'build') and is_incremental() -%}
    {%- set plan = stage_copy_plan(table_name, partition_by) -%}
    {%- if plan.whole -%}
      {{- source_or_empty(source_name, table_name, columns) -}}
    {%- elif plan.files -%}
      read_parquet([
        {%- for file in plan.files %}'{{ file }}'{{ ", " if not loop.last }}{% endfor -%}
      ], hive_partitioning = true, union_by_name = true)
    {%- else -%}
      {{- empty_relation(columns) -}}
    {%- endif -%}
  {%- else -%}
    {{- source_or_empty(source_name, table_name, columns) -}}
  {%- endif -%}
{%- endmacro -%}

{#- The condition that a row lies in one of the hive partitions `values` (as their folder names spell them). -#}
{%- macro stage_partitions_in(partition_by, values) -%}
  cast({{ partition_by }} as varchar) in (
    {%- for value in values %}'{{ value }}'{{ ", " if not loop.last }}{% endfor -%}
  )
{%- endmacro -%}

{#- pre-hook: delete the rows of the partitions this incremental run copies again (all rows for a whole copy), and
    the rows that match `also` (an optional SQL condition: see changed_lookup_keys). -#}
{%- macro stage_copy_delete(table_name, partition_by, also=none) -%}
  {%- if target.type == 'duckdb' and execute and is_incremental() -%}
    {%- set plan = stage_copy_plan(table_name, partition_by) -%}
    {%- if plan.whole -%}
      delete from {{ this }}
    {%- elif plan.partitions -%}
      delete from {{ this }} where {{ stage_partitions_in(partition_by, plan.partitions) }}
      {%- if also %} or {{ also }}{% endif -%}
    {%- elif also -%}
      delete from {{ this }} where {{ also }}
    {%- endif -%}
  {%- endif -%}
{%- endmacro -%}

{#- post-hook: record the stage files this model's table now holds (all current files: after a full or an
    incremental copy, the table is a copy of every one of them). `--empty` builds copy no rows: none recorded. -#}
{%- macro stage_copy_record(table_name) -%}
  {%- if target.type == 'duckdb' and execute -%}
    delete from {{ target.schema }}.c360_stage_files where model = '{{ model.unique_id }}'
    {%- if not flags.EMPTY -%};
    insert into {{ target.schema }}.c360_stage_files
    select '{{ model.unique_id }}', filename, size, last_modified from read_blob('{{ stage_files_glob(table_name) }}')
    {%- endif -%}
  {%- endif -%}
{%- endmacro -%}

{#- Whether the model being rendered is built incrementally on DuckDB by `dbt run`/`dbt build` (not `dbt compile`,
    which stays offline; not a unit test of the model, which reads its given rows whole: it has no table of its own
    to be incremental on). -#}
{%- macro duckdb_incremental_build() -%}
  {{- return(target.type == 'duckdb' and execute and flags.WHICH in ('run', 'build')
             and model.resource_type == 'model' and is_incremental()) -}}
{%- endmacro -%}

{#- For an incremental model derived from a staging copy (fct_transactions from the transactions): the where
    clause that keeps the rows of the stage partitions whose files changed since this model's own last build (the
    copies' plan, recorded for this model by its own post-hook `stage_copy_record`, after its pre-hook
    `stage_copy_delete` removed those partitions' rows), and the rows that match `also` (an optional SQL condition,
    which the pre-hook must be given too). So a late row in an old partition is picked up as surely as a new day's.
    Renders nothing for a full build, on other adapters and for `dbt compile` (which stays offline). -#}
{%- macro stage_partitions_changed(table_name, partition_by, also=none) -%}
  {%- if duckdb_incremental_build() -%}
    {%- set plan = stage_copy_plan(table_name, partition_by) -%}
    {%- if plan.whole -%}
    {%- elif plan.partitions -%}
      where {{ stage_partitions_in(partition_by, plan.partitions) }}{% if also %} or {{ also }}{% endif %}
    {%- elif also -%}
      where {{ also }}
    {%- else -%}
      where 1 = 0
    {%- endif -%}
  {%- endif -%}
{%- endmacro -%}

{#- For an incremental model that copies a value from a lookup into its rows (fct_transactions: each account's
    owner, from int_client_accounts): the condition that a row's `key` is one whose `column` in this model's table
    differs from the lookup's current value (rows of `lookup` where `lookup_where`; a key gone from it counts as
    null), so that the model's pre-hook deletes those rows and its query reads them again with the current value.
    Without it, a row keeps the value of the day it was read (an account's new owner would never reach its older
    transactions). Keys are integers. More than `max_keys` such keys: every row (the condition `true`); none: no condition.

    Listed with run_query while the model's SQL and its pre-hook are rendered, both before the pre-hook runs, so
    both see the same keys. DuckDB's incremental runs only, as stage_copy_delete and stage_partitions_changed. -#}
{%- macro changed_lookup_keys(key, column, lookup, lookup_where='true', max_keys=10000) -%}
  {%- if duckdb_incremental_build() -%}
    {%- set listing = run_query(
          "select distinct this_table." ~ key ~ " from " ~ this ~ " as this_table"
          ~ " left join (select " ~ key ~ ", " ~ column ~ " from " ~ lookup ~ " where " ~ lookup_where ~ ") as lookup"
          ~ " on this_table." ~ key ~ " = lookup." ~ key
          ~ " where this_table." ~ key ~ " is not null and this_table." ~ column ~ " is distinct from lookup." ~ column
          ~ " order by 1 limit " ~ (max_keys + 1)) -%}
    {%- set keys = listing.columns[0].values() | list -%}
    {%- if keys | length > max_keys -%}
      {{- return('true') -}}
    {%- elif keys -%}
      {{- return(key ~ ' in (' ~ (keys | map('int') | join(', ')) ~ ')') -}}
    {%- endif -%}
  {%- endif -%}
  {{- return(none) -}}
{%- endmacro -%}

{#- fct_transactions' accounts whose owner changed since their rows were read (changed_lookup_keys), for its
    pre-hook and its query alike. -#}
{%- macro owner_changed_accounts() -%}
  {{- return(changed_lookup_keys('account_id', 'client_id', ref('int_client_accounts'), 'is_owner')) -}}
{%- endmacro -%}
