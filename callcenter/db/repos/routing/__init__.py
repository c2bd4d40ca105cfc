"""Read and change the routing configuration the admin console edits.

Two audiences: the ACD reads one immutable :class:`RoutingConfig` snapshot
(:func:`load_routing_config`, ``snapshot.py``) and reloads it whenever the console
publishes ``config_changed``; the console writes through the ``save_*``/``set_*``
functions, which validate every value and raise :class:`InvalidConfig` with a
message an admin can act on *before* anything is written. Writers only flush:
the caller owns the transaction (and writes the audit entry in the same one).

One module per area the console edits: ``groups``, ``hotlines``, ``schedule`` (opening
hours and holidays), ``pause_reasons``, ``prompts``, ``departments`` (and ticket
categories), ``settings`` (centre-wide numbers); ``common`` holds the error type and
the validators they share. Callers import from this package (``routing.save_group``).

Messages are English gettext msgids with ``{name}`` parameters, marked with
``N_`` so Babel extracts them; the web layer translates them per user.
"""

from callcenter.db.repos.routing.common import (
    CODE_RE,
    EMAIL_RE,
    HOTLINE_RE,
    MENU_KEYS,
    N_,
    OVERFLOW_ACTIONS,
    PHONE_RE,
    STRATEGIES,
    TECHNOLOGIES,
    InvalidConfig,
    check_code,
    normalize_interface,
)
from callcenter.db.repos.routing.departments import (
    CategoryInput,
    DepartmentInput,
    DepartmentMember,
    delete_category,
    delete_department,
    department_members,
    list_categories,
    list_departments,
    save_category,
    save_department,
    set_department_members,
)
from callcenter.db.repos.routing.groups import (
    GroupInput,
    delete_group,
    group_members,
    groups_of_users,
    list_groups,
    save_group,
    set_group_members,
    set_user_groups,
)
from callcenter.db.repos.routing.hotlines import (
    HotlineInput,
    delete_hotline,
    list_hotlines,
    save_hotline,
)
from callcenter.db.repos.routing.pause_reasons import (
    PauseReasonInput,
    delete_pause_reason,
    list_pause_reasons,
    save_pause_reason,
)
from callcenter.db.repos.routing.prompts import (
    delete_prompt,
    list_prompts,
    save_prompt,
)
from callcenter.db.repos.routing.schedule import (
    business_hours,
    check_intervals,
    delete_holiday,
    list_holidays,
    save_holiday,
    set_business_hours,
)
from callcenter.db.repos.routing.settings import (
    SETTING_SPECS,
    SETTINGS_BY_KEY,
    SettingSpec,
    SystemSettings,
    load_system_settings,
    save_settings,
)
from callcenter.db.repos.routing.snapshot import (
    AgentGroupConfig,
    GroupMemberConfig,
    HolidayOverride,
    HotlineConfig,
    OpeningInterval,
    PauseReasonConfig,
    PromptConfig,
    RoutingConfig,
    load_routing_config,
    public_holidays,
)

__all__ = [
    "CODE_RE",
    "EMAIL_RE",
    "HOTLINE_RE",
    "MENU_KEYS",
    "N_",
    "OVERFLOW_ACTIONS",
    "PHONE_RE",
    "SETTINGS_BY_KEY",
    "SETTING_SPECS",
    "STRATEGIES",
    "TECHNOLOGIES",
    "AgentGroupConfig",
    "CategoryInput",
    "DepartmentInput",
    "DepartmentMember",
    "GroupInput",
    "GroupMemberConfig",
    "HolidayOverride",
    "HotlineConfig",
    "HotlineInput",
    "InvalidConfig",
    "OpeningInterval",
    "PauseReasonConfig",
    "PauseReasonInput",
    "PromptConfig",
    "RoutingConfig",
    "SettingSpec",
    "SystemSettings",
    "business_hours",
    "check_code",
    "check_intervals",
    "delete_category",
    "delete_department",
    "delete_group",
    "delete_holiday",
    "delete_hotline",
    "delete_pause_reason",
    "delete_prompt",
    "department_members",
    "group_members",
    "groups_of_users",
    "list_categories",
    "list_departments",
    "list_groups",
    "list_holidays",
    "list_hotlines",
    "list_pause_reasons",
    "list_prompts",
    "load_routing_config",
    "load_system_settings",
    "normalize_interface",
    "public_holidays",
    "save_category",
    "save_department",
    "save_group",
    "save_holiday",
    "save_hotline",
    "save_pause_reason",
    "save_prompt",
    "save_settings",
    "set_business_hours",
    "set_department_members",
    "set_group_members",
    "set_user_groups",
]
