with

source as (

    select * from {{ source_or_empty(
        'core_banking',
        'loans',
        [
            'loan_id',
            'account_id',
            'granted_date',
            'amount',
            'duration_months',
            'monthly_payment',
            'loan_status',
            'is_orphan'
        ]
    ) }}

),

renamed as (

    select
        cast(loan_id as bigint) as loan_id,
        cast(account_id as bigint) as account_id,
        cast(granted_date as date) as granted_on,
        cast(amount as decimal(18, 2)) as loan_amount,
        cast(duration_months as integer) as duration_months,
        cast(monthly_payment as decimal(18, 2)) as monthly_payment,
        cast(loan_status as varchar) as loan_status,
        cast(is_orphan as boolean) as is_orphan

    from source

)

select * from renamed
