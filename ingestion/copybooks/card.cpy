      *================================================================*
      * CARD.CPY                                                       *
      * Card origination system: daily extract of issued cards.       *
      * Raw source "card". Fixed width, 39 bytes, DISPLAY only.        *
      * A card is issued to the OWNER disposition of an account only.  *
      *================================================================*
      * One payment card as issued.
       01  CARD-RECORD.
      *    Card number, unique, assigned in issuing order.
           05  CARD-ID                 PIC 9(9).
      *    The disposition (DISP-ID of the gbank extract) the card is
      *    issued to; always an OWNER disposition.
           05  DISP-ID                 PIC 9(9).
      *    Card product: junior, classic or gold.
           05  CARD-TYPE               PIC X(7).
               88  CARD-JUNIOR         VALUE 'junior'.
               88  CARD-CLASSIC        VALUE 'classic'.
               88  CARD-GOLD           VALUE 'gold'.
      *    Day the card was issued, YYYYMMDD.
           05  ISSUED-DATE             PIC 9(8).
      *    Time of day the card was issued, HHMMSS (UTC).
           05  ISSUED-TIME             PIC 9(6).
