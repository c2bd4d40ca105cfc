"""The reports room: KPI reports over a date range (calls, agents, tickets) as tables,
charts, Excel and print, and the daily summary email to supervisors."""
