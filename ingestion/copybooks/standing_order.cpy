      *================================================================*
      * STANDING_ORDER.CPY                                             *
      * Payment orders system: standing (permanent) orders.            *
      * Raw source "standing_order". Fixed width, 54 bytes, DISPLAY.   *
      * Each order pays AMOUNT every month from START-DATE on.         *
      *================================================================*
      * One standing order.
       01  STANDING-ORDER-RECORD.
      *    Order number, unique, assigned in creation order.
           05  ORDER-ID                PIC 9(9).
      *    The paying account (ACCOUNT-ID).
           05  ACCOUNT-ID              PIC 9(9).
      *    Bank of the recipient, a two-letter code.
           05  BANK-TO                 PIC X(2).
      *    Account of the recipient at that bank (keep as text: it has
      *    leading zeros).
           05  ACCOUNT-TO              PIC X(8).
      *    Amount paid each month.
           05  AMOUNT                  PIC S9(7)V99
                                       SIGN IS LEADING SEPARATE.
      *    Purpose: POJISTNE insurance, SIPO household, LEASING leasing,
      *    UVER loan instalment; spaces when not given.
           05  K-SYMBOL                PIC X(8).
               88  ORDER-INSURANCE     VALUE 'POJISTNE'.
               88  ORDER-HOUSEHOLD     VALUE 'SIPO'.
               88  ORDER-LEASING       VALUE 'LEASING'.
               88  ORDER-LOAN          VALUE 'UVER'.
      *    Day of the order's creation; payments start the month after,
      *    YYYYMMDD.
           05  START-DATE              PIC 9(8).
