from django.urls import include, path
from django.views.generic.base import RedirectView

from steward.api.token import ThrottledTokenView
from steward.api.urls import api
from steward.register import views as register_views

urlpatterns = [
    path("api/v1/", api.urls),
    path("oauth/token/", ThrottledTokenView.as_view(), name="oauth-token"),
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets/.
    path("assets/<path:rest>", RedirectView.as_view(url="/static/govuk-frontend/assets/%(rest)s", permanent=True)),
    path("privacy/<int:urn>/", register_views.notice_index, name="privacy-notices"),
    path("privacy/<int:urn>/<slug:service>/", register_views.notice, name="privacy-notice"),
    path("privacy/<int:urn>/<slug:service>/notice.pdf", register_views.notice_pdf, name="privacy-notice-pdf"),
    path("privacy/<int:urn>/<slug:service>/versions/", register_views.notice_versions, name="privacy-notice-versions"),
    path(
        "privacy/<int:urn>/<slug:service>/versions/<int:number>/",
        register_views.notice_version,
        name="privacy-notice-version",
    ),
    path(
        "privacy/<int:urn>/<slug:service>/versions/<int:number>/diff/",
        register_views.notice_version_diff,
        name="privacy-notice-version-diff",
    ),
    path("portal/", include("steward.portal.urls")),
    path("", include("steward.backoffice.urls")),
]
