from django.urls import path

from steward.core.replicas import replica_reads
from steward.portal.views import account, children, cookies, recovery, rights_requests, sessions, sign_in

app_name = "portal"

# replica_reads: GET and HEAD of these pages read from a replica (`core.replicas`), their forms the primary.

urlpatterns = [
    path("", replica_reads(children.home), name="home"),
    path("sign-in/", sign_in.sign_in, name="sign-in"),
    path("sign-in/code/", sign_in.sign_in_code, name="sign-in-code"),
    path("sign-out/", sign_in.sign_out, name="sign-out"),
    path("sign-in/password/", recovery.password_forgotten, name="password-forgotten"),
    path("sign-in/password/<str:token>/", recovery.password_reset, name="password-reset"),
    path("invitation/<str:token>/", sign_in.invitation, name="invitation"),
    path("children/<int:learner_id>/", replica_reads(children.child), name="child"),
    path("children/<int:learner_id>/photo.jpg", replica_reads(children.child_photo), name="child-photo"),
    path("children/<int:learner_id>/<slug:item>/", replica_reads(children.child_item), name="child-item"),
    path("account/", replica_reads(account.account), name="account"),
    path("account/two-factor/", account.two_factor, name="two-factor"),
    path("account/correction/<int:link_id>/", account.correction, name="correction"),
    path("account/close/", account.close_account, name="close-account"),
    path("account/sessions/", replica_reads(sessions.sessions), name="sessions"),
    path("account/sessions/<int:session_id>/end/", sessions.session_end, name="session-end"),
    path("account/requests/new/", rights_requests.new_request, name="rights-request"),
    path("account/push/key/", account.push_key, name="push-key"),
    path("account/push/subscribe/", account.push_subscribe, name="push-subscribe"),
    path("cookies/", cookies.cookies, name="cookies"),
    path("sw.js", cookies.service_worker, name="service-worker"),
]
