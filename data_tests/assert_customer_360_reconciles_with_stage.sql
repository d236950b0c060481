-- Every staged CRM client has exactly one customer_360 row, and customer_360 holds no one else.
-- Returns the offending client_ids (the test fails when any row comes back).

with

staged as (

    select client_id from {{ ref('stg_crm__customers') }}

),

mart as (

    select
        client_id,
        count(*) as rows_per_client
    from {{ ref('customer_360') }}
    group by client_id

),

compared as (

    select
        coalesce(staged.client_id, mart.client_id) as client_id,
        coalesce(mart.rows_per_client, 0) as rows_per_client,
        staged.client_id is not null as is_staged

    from staged
    full outer join mart
        on staged.client_id = mart.client_id

)

select * from compared
where rows_per_client != 1 or not is_staged
