"""CRM core: residents, every interaction, cases routed to city departments, knowledge base.

Only this package talks to the CRM database (SQLite by default, PostgreSQL in production).
Other packages call the services below with a `crm_core.db.Database` and get frozen views
back; services are synchronous (run them with `asyncio.to_thread` from async code), except
the recorder, which is the bus subscriber for call events.

    db.Database(url)                      engine + sessions; db.migrate(url) upgrades to head
    services.residents                    caller_history(db, phone, limit=10) -> CallerHistory
                                          create_resident / find_resident / update_resident /
                                          add_phone
    services.interactions                 record_event(db, event), get_call(db, call_id),
                                          wrap_up(db, call_id, disposition_code=, notes=, at=),
                                          record_contact(db, channel=, at=, ...)
    services.cases                        create_case(db, NewCase, by=Actor) -> CreatedCase,
                                          update_case, transition_case, mark_duplicate,
                                          suggest_duplicates(db, category, lat, lon, radius_m),
                                          get_case / get_case_by_number / find_case_by_token,
                                          link_interaction, list_cases
    services.routing                      route_case(db, category, district) -> DepartmentView,
                                          list_departments, list_categories
    search                                kb_search(db, query, lang="pl"), save_article,
                                          get_article, article_versions
    services.users                        authenticate(db, username, password), create_user,
                                          open_session / session_user / close_session
    services.contact_center               dispositions, pause reasons, IVR script versions,
                                          queues + members, agent skills, Open311 API keys
    outbox / recorder                     durable journal + writer; recorder.start(url, dir),
                                          bus.subscribe("crm", recorder.on_event)
    photos.MediaStore(dir)               cases' photos on disk: sniffed type, metadata stripped
                                          (photo_metadata), unguessable names
    status_names.STATUS_NAMES            a case status as residents and staff read it (pl, en)
    seed.seed(db, demo=False)             reference data; demo=True adds the demo accounts

Errors: `errors.ValidationError(fields)` (field → message; nothing was written),
`errors.TransitionError`, `errors.NotFound`.
"""
