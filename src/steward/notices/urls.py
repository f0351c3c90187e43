"""The public notice pages, mounted at the site root by `steward.urls` (paths and names unchanged
since they lived in the register: templates, the portal and the back office reverse them)."""

from django.urls import path

from steward.notices import views

urlpatterns = [
    path("privacy/<int:urn>/", views.notice_index, name="privacy-notices"),
    path("privacy/<int:urn>/<slug:service>/", views.notice, name="privacy-notice"),
    path("privacy/<int:urn>/<slug:service>/notice.pdf", views.notice_pdf, name="privacy-notice-pdf"),
    path("privacy/<int:urn>/<slug:service>/versions/", views.notice_versions, name="privacy-notice-versions"),
    path(
        "privacy/<int:urn>/<slug:service>/versions/<int:number>/",
        views.notice_version,
        name="privacy-notice-version",
    ),
    path(
        "privacy/<int:urn>/<slug:service>/versions/<int:number>/diff/",
        views.notice_version_diff,
        name="privacy-notice-version-diff",
    ),
]
