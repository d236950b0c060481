-- fct_web_sessions holds exactly the sessions of stg_web__sessions, one row each: no session multiplied by its hits
-- or by the visitor map, none lost. Returns the offending session_ids (the test fails when any row comes back).

with

staged as (

    select session_id from {{ ref('stg_web__sessions') }}

),

mart as (

    select
        session_id,
        count(*) as rows_per_session

    from {{ ref('fct_web_sessions') }}
    group by session_id

),

compared as (

    select
        coalesce(staged.session_id, mart.session_id) as session_id,
        coalesce(mart.rows_per_session, 0) as rows_per_session,
        staged.session_id is not null as is_staged

    from staged
    full outer join mart
        on staged.session_id = mart.session_id

)

select * from compared
where rows_per_session != 1 or not is_staged
