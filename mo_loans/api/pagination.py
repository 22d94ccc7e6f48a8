from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """``page`` and ``page_size`` (default 50, at most 1000), SPEC §3."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 1000
