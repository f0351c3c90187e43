from django.urls import include, path
from django.views.generic.base import RedirectView

from steward.api.token import ThrottledTokenView
from steward.api.urls import ONEROSTER_PREFIX, api, oneroster_urls

urlpatterns = [
    path("api/v1/", api.urls),
    path(ONEROSTER_PREFIX, include(oneroster_urls)),
    path("oauth/token/", ThrottledTokenView.as_view(), name="oauth-token"),
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets/.
    path("assets/<path:rest>", RedirectView.as_view(url="/static/govuk-frontend/assets/%(rest)s", permanent=True)),
    path("", include("steward.notices.urls")),
    path("portal/", include("steward.portal.urls")),
    path("", include("steward.backoffice.urls")),
]
