from django.urls import path

from steward.backoffice.views import (
    audit,
    authenticators,
    consents,
    disclosures,
    flow_requests,
    flows,
    home,
    pages,
    parent_authenticators,
    portal,
    provisioning,
    recovery,
    rights,
    rights_history,
    search,
    sign_in,
    terminations,
)

app_name = "backoffice"

urlpatterns = [
    path("", pages.home, name="home"),
    path("sign-in/", sign_in.sign_in, name="sign-in"),
    path("sign-in/verify/", sign_in.sign_in_verify, name="sign-in-verify"),
    path("sign-out/", sign_in.sign_out, name="sign-out"),
    path("sign-in/password/", recovery.password_forgotten, name="password-forgotten"),
    path("sign-in/password/<str:token>/", recovery.password_reset, name="password-reset"),
    path("search/", search.search, name="search"),
    path("schools/", pages.choose_school, name="choose-school"),
    path("schools/switch/", pages.switch_school, name="switch-school"),
    path("school/", home.school_home, name="school-home"),
    path("school/register/", pages.school_register, name="school-register"),
    path("school/people/", pages.school_people, name="school-people"),
    path("school/audit/", audit.school_audit, name="school-audit"),
    path("school/audit/export.csv", audit.school_audit_csv, name="school-audit-csv"),
    path("school/batches/", pages.school_batches, name="school-batches"),
    path("school/batches/<uuid:batch_id>/", pages.school_batch, name="school-batch"),
    path("school/flows/", flows.school_flows, name="school-flows"),
    path("school/accounts/", provisioning.provisioning_home, name="school-provisioning"),
    path("school/accounts/new/", provisioning.provisioning_target_edit, name="school-provisioning-new"),
    path("school/accounts/<int:target_id>/", provisioning.provisioning_target, name="school-provisioning-target"),
    path(
        "school/accounts/<int:target_id>/edit/", provisioning.provisioning_target_edit, name="school-provisioning-edit"
    ),
    path("school/accounts/<int:target_id>/plan/", provisioning.provisioning_plan, name="school-provisioning-plan"),
    path(
        "school/accounts/<int:target_id>/plans/<int:run_id>/apply/",
        provisioning.provisioning_apply,
        name="school-provisioning-apply",
    ),
    path(
        "school/accounts/<int:target_id>/plans/<int:run_id>/discard/",
        provisioning.provisioning_discard,
        name="school-provisioning-discard",
    ),
    path(
        "school/accounts/<int:target_id>/letters/",
        provisioning.provisioning_letters,
        name="school-provisioning-letters",
    ),
    path("school/disclosures/", disclosures.school_disclosures, name="school-disclosures"),
    path("school/disclosures/export.csv", disclosures.school_disclosures_csv, name="school-disclosures-csv"),
    path("school/rights/", rights.rights_requests, name="school-rights"),
    path("school/rights/<int:request_id>/", rights.rights_request, name="school-rights-request"),
    path("school/rights/all/", rights_history.rights_history, name="school-rights-history"),
    path("school/rights/all/export.csv", rights_history.rights_history_csv, name="school-rights-csv"),
    path("school/portal/", portal.school_portal, name="school-portal"),
    path(
        "school/portal/authenticators/",
        parent_authenticators.school_parent_authenticators,
        name="school-parent-authenticators",
    ),
    path(
        "school/portal/authenticators/<int:parent_id>/reset/",
        parent_authenticators.school_parent_authenticator_reset,
        name="school-parent-authenticator-reset",
    ),
    path("school/consents/", consents.school_consents, name="school-consents"),
    path(
        "school/consents/<int:consent_id>/withdraw/", consents.school_consent_withdraw, name="school-consent-withdraw"
    ),
    path("school/consents/agreements/", consents.school_agreement_sign, name="school-agreement-sign"),
    path(
        "school/consents/agreements/<int:agreement_id>/revoke/",
        consents.school_agreement_revoke,
        name="school-agreement-revoke",
    ),
    path("account/marketing/", consents.account_marketing, name="account-marketing"),
    path("school/flows/<int:flow_id>/", flows.school_flow, name="school-flow"),
    path("school/flows/<int:flow_id>/<slug:action>/", flows.school_flow_action, name="school-flow-action"),
    path("processor/", home.processor_home, name="processor-home"),
    path("processor/schools/", pages.processor_schools, name="processor-schools"),
    path("processor/contracts/", pages.processor_contracts, name="processor-contracts"),
    path("processor/register/", pages.processor_register, name="processor-register"),
    path("processor/audit/", audit.processor_audit, name="processor-audit"),
    path("processor/audit/export.csv", audit.processor_audit_csv, name="processor-audit-csv"),
    path("processor/staff/", authenticators.processor_staff, name="processor-staff"),
    path(
        "processor/staff/<int:user_id>/authenticator/reset/",
        authenticators.authenticator_reset_confirm,
        name="processor-authenticator-reset",
    ),
    path("processor/terminations/", terminations.processor_terminations, name="processor-terminations"),
    path("processor/contracts/<int:contract_id>/end/", terminations.termination_start, name="termination-start"),
    path(
        "processor/terminations/<int:termination_id>/purge/", terminations.termination_purge, name="termination-purge"
    ),
    path(
        "processor/terminations/<int:termination_id>/certificate/",
        terminations.termination_certificate,
        name="termination-certificate",
    ),
    path("school/export/", terminations.school_termination_export, name="school-termination-export"),
    path("processor/flow-requests/new/", flow_requests.record_flow_request, name="processor-flow-request"),
]
