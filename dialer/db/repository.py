"""The live dialer's persistence: claims, attempts, dispositions, callbacks, summary, recovery.

Every function opens its own session and COMMITS before it returns, so whatever it reports
(an attempt id, a saved disposition) is stored before the dialer acknowledges it to anyone.

Life of a contact (``contacts.state``), with the pure rules of ``dialer.core.selection``:

    new/retry/callback --claim_next_contact--> reserved (in flight, ``reserved_from`` kept)
    reserved --release_contact--> back where it came from (preview skip; no attempt counted)
    reserved --create_attempt--> reserved, held by that attempt (``in_flight_attempt_id``)
    held --finish_attempt--> decided by the result (retry/done/exhausted/...), or still held
         while the agent who talked to the customer picks a disposition
    held --save_disposition--> decided by the disposition (final, retry, callback)

A claim is a compare-and-set (``UPDATE ... WHERE state = <seen state>``), so two claimers never
get the same contact, on SQLite and PostgreSQL alike; and an attempt row is committed before
the call is originated, so after a crash ``recover_after_crash`` finds every call that may have
been placed: it marks the open ones ``interrupted`` (counted as attempts) and releases every
reserved contact. A restarted dialer therefore never dials a contact twice for one attempt.

This module is the repository's one name for its callers (``from dialer.db import repository as
repo``); the work is in ``dialer.db.claims`` (claiming, attempts placed, a contact as an agent
sees it), ``dialer.db.outcomes`` (attempt results, dispositions, callbacks), ``dialer.db.recovery``
(attempts ended outside the usual path, crash recovery), ``dialer.db.decisions`` (where a contact
goes next) and ``dialer.db.records`` (what they hand out). ``campaign_summary`` and
``attempt_rows`` live in ``dialer.db.reports``.
"""

from __future__ import annotations

from dialer.db.claims import CANDIDATES_PER_KIND as CANDIDATES_PER_KIND
from dialer.db.claims import CLAIM_ROUNDS as CLAIM_ROUNDS
from dialer.db.claims import claim_and_create_attempt as claim_and_create_attempt
from dialer.db.claims import claim_next_contact as claim_next_contact
from dialer.db.claims import create_attempt as create_attempt
from dialer.db.claims import get_contact as get_contact
from dialer.db.claims import listed_numbers as listed_numbers
from dialer.db.claims import release_contact as release_contact
from dialer.db.claims import update_contact_fields as update_contact_fields
from dialer.db.outcomes import finish_attempt as finish_attempt
from dialer.db.outcomes import hand_over_personal_callbacks as hand_over_personal_callbacks
from dialer.db.outcomes import record_attempt_event as record_attempt_event
from dialer.db.outcomes import save_disposition as save_disposition
from dialer.db.records import AttemptClosedError as AttemptClosedError
from dialer.db.records import AttemptOutcome as AttemptOutcome
from dialer.db.records import Claim as Claim
from dialer.db.records import ClaimLostError as ClaimLostError
from dialer.db.records import ContactOutcome as ContactOutcome
from dialer.db.records import ContactRecord as ContactRecord
from dialer.db.records import DispositionError as DispositionError
from dialer.db.records import DispositionOutcome as DispositionOutcome
from dialer.db.records import RecoveryReport as RecoveryReport
from dialer.db.records import RepositoryError as RepositoryError
from dialer.db.recovery import INTERRUPTED_NOTE as INTERRUPTED_NOTE
from dialer.db.recovery import NO_DISPOSITION_NOTE as NO_DISPOSITION_NOTE
from dialer.db.recovery import cancel_attempt as cancel_attempt
from dialer.db.recovery import recover_after_crash as recover_after_crash
from dialer.db.recovery import settle_without_disposition as settle_without_disposition
from dialer.db.reports import CampaignSummary as CampaignSummary
from dialer.db.reports import attempt_rows as attempt_rows
from dialer.db.reports import campaign_summary as campaign_summary
