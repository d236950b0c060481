-- One row per client and account the client may use (through a disposition), with the account's attributes.
-- The owner of an account is its one OWNER disposition; disponents may use it too.
with

dispositions as (

    select * from {{ ref('stg_core_banking__dispositions') }}

),

accounts as (

    select * from {{ ref('stg_core_banking__accounts') }}

),

final as (

    select
        dispositions.client_id,
        dispositions.account_id,
        dispositions.disp_id,
        dispositions.disp_type,
        dispositions.disp_type = 'owner' as is_owner,
        accounts.district_id,
        accounts.statement_frequency,
        accounts.opened_on

    from dispositions
    inner join accounts
        on dispositions.account_id = accounts.account_id

)

select * from final
