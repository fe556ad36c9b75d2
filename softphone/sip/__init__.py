"""The softphone's SIP user agent: the interface (`api`), its pure rules (`states`) and the
pjsua2 implementation (`pjsua2_ua`, imported on demand: it loads PJSIP)."""
