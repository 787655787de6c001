"""The platform's URLs and one that fails (``/boom/``), for the error-page tests."""

from django.urls import path

from config import urls as platform_urls


def boom(request):
    raise RuntimeError("the failure's detail: /etc/shuzhi/secret.conf line 3")


urlpatterns = [path("boom/", boom), *platform_urls.urlpatterns]
handler500 = platform_urls.handler500
