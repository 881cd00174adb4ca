"""The newsroom: the editors' web app, served by the publisher (server-rendered, in Russian).

It lives at ``settings.newsroom_path`` ("" = the publisher's root in ``make run``; ``/newsroom``
behind the compose edge) beside the JSON API (``/api/v1``), and uses the same services
(``routes.deps.Deps``) and accounts. Its parts:

=====================  ==========================================================================
``site``               ``build`` (the ``Newsroom`` parts) and ``routes`` (every page, the static
                       files), called by ``app.create_app``
``deps``               ``Newsroom``: what pages get their collaborators from (``Newsroom.of``)
``web``                ``PageRouter`` and ``page_guard`` (Origin, session, role, CSRF, the form),
                       ``current``/``posted``, redirects, ``safe_next``
``render``             ``Pages``: Jinja2 templates, the base layout's context, Russian dates
``errors``             errors as pages (``pages_first`` wraps the app's exception handlers)
``assets``             ``/static/...``: the newsroom's CSS and JS, and vendored npm files
``pages/``             one module per page resource, each with a ``router``; found by itself
``templates/``         ``base.html`` and the pages' templates (``templates/<module>/`` for new ones)
``static/``            ``newsroom.css``, ``newsroom.js``, ``editor.js`` (Quill), ``vendor/``
=====================  ==========================================================================

Adding a page (see also ``docs/development.md``)::

    # pages/letters.py
    router = PageRouter(nav=[NavItem("Письма", "letters", order=70, role=Role.EDITOR)])

    @router.page("GET", "/letters", "Readers' letters", role=Role.EDITOR)
    async def letters(request: Request) -> Response:
        newsroom = Newsroom.of(request)
        return await newsroom.pages.render(request, "letters/list.html", "Письма", {...})

    @router.page("POST", "/letters/{letter_id}/archive", "Archive a letter", role=Role.EDITOR)
    async def archive_letter(request: Request) -> Response:
        form = posted(request)               # read within FORM limits, CSRF checked
        ...
        await newsroom.sessions.flash(current(request), "Письмо в архиве.")
        return see_other(request, "letters")  # 303 back (a plain form post, no JavaScript)
"""
