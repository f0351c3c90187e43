from django.urls import include, path
from django.views.generic.base import RedirectView
from oauth2_provider import views as oauth

from steward.api.token import ThrottledTokenView
from steward.api.urls import ONEROSTER_PREFIX, api, oneroster_urls
from steward.backoffice.views.sign_in_apps import authorize

oidc_urls = [
    path("authorize/", authorize, name="authorize"),
    path("token/", ThrottledTokenView.as_view(), name="token"),
    path("userinfo/", oauth.UserInfoView.as_view(), name="user-info"),
    path(
        ".well-known/openid-configuration", oauth.ConnectDiscoveryInfoView.as_view(), name="oidc-connect-discovery-info"
    ),
    path(".well-known/jwks.json", oauth.JwksInfoView.as_view(), name="jwks-info"),
]

urlpatterns = [
    path("api/v1/", api.urls),
    path(ONEROSTER_PREFIX, include(oneroster_urls)),
    path("oauth/token/", ThrottledTokenView.as_view(), name="oauth-token"),
    # OpenID Connect provider (issuer: /oauth): django-oauth-toolkit's views under the names its
    # discovery document reverses, with our own authorisation page (DESIGN.md "OpenID Connect provider").
    path("oauth/", include((oidc_urls, "oauth2_provider"))),
    # GOV.UK Frontend's stylesheet asks for its fonts and images under /assets/.
    path("assets/<path:rest>", RedirectView.as_view(url="/static/govuk-frontend/assets/%(rest)s", permanent=True)),
    path("", include("steward.notices.urls")),
    path("portal/", include("steward.portal.urls")),
    path("", include("steward.backoffice.urls")),
]
