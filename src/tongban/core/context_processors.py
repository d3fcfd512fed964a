from django.conf import settings

from tongban.core.models import PlatformFlag
from tongban.core.navigation import main_nav


def platform(request):
    """Values every page layout needs."""
    return {
        "platform_region": settings.TONGBAN_REGION,
        "main_nav": main_nav(request.path),
        "demo_data": PlatformFlag.objects.filter(key=PlatformFlag.DEMO_DATA, value="1").exists(),
    }
