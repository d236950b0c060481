{#- The lake root: the CLI sets C360_LAKE to an absolute path or an s3:// URI; analysts get ./lake. -#}
{%- macro lake_root() -%}
  {{- env_var('C360_LAKE', 'lake') | replace('\\', '/') -}}
{%- endmacro -%}

{#-
  Where a DuckDB external mart lands: the folder <lake>/analytics/<model>/ (one folder per mart, the layout Athena
  and Glue expect: a table is a prefix). The marts are written with per_thread_output, so DuckDB creates the folder
  and replaces its files (overwrite). Overrides dbt-duckdb's default of <root>/<model>.parquet.
-#}
{%- macro external_location(relation, config) -%}
  {{- adapter.external_root() }}/{{ relation.identifier }}
{%- endmacro -%}
