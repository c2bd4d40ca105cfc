"""The surveys room: the admin's survey builder, the forms agents and the care team fill
in, and the survey report (CSAT, NPS, answers per question, Excel). The caller's IVR
survey is served by the FastAGI route in :mod:`callcenter.services.survey`."""
