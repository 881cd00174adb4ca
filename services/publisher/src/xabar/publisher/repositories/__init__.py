"""Storage behind one repository per aggregate. Only these modules (and the runtime, and the
outbox relay) call MongoDB or Redis; each owns its collection's FerretDB workarounds (document
locks, ``_id``-only queries, relay markers):

- ``articles``: articles with their revisions and outbox (``ArticleRepository``, typed
  ``Article`` in and out; ``to_document`` / ``from_document`` the one conversion);
- ``index``: the editors' article list in Redis (``ArticleIndex``);
- ``slugs``: unique slugs (``SlugRegistry``);
- ``schedule``: the schedule index the scheduler reads (``ScheduleRepository``);
- ``featured``: the news of the day (``FeaturedRepository``);
- ``inbox``: citizen reporters' tips and their reviews (``InboxRepository``);
- ``editors``: editors' accounts (``EditorRepository``);
- ``audit``: the audit log (``AuditLog``);
- media (images and their metadata) are in ``xabar.publisher.media`` (``MediaStore``).

``collections`` names the collections and holds the helpers the repositories share;
``bundle.Repositories`` is all of them, built once by the composition root.
"""
