{#- Model-level test: every client has exactly one current version (is_current) in an SCD2 dimension. -#}
{% test one_current_version_per_client(model) %}

with

current_versions as (

    select
        client_id,
        sum(case when is_current then 1 else 0 end) as current_count

    from {{ model }}
    group by client_id

)

select * from current_versions
where current_count != 1

{% endtest %}
