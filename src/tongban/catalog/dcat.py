"""The open catalog as DCAT-AP 3 JSON-LD (``/catalog.jsonld``), built with rdflib.

Only published resources whose open class is ``open`` or ``conditional`` appear (what the public
may see). Each becomes a ``dcat:Dataset`` with title, description (Chinese and English where
known), identifier, publisher (``foaf:Agent``), keywords, theme (EU data-theme vocabulary),
accrual periodicity (EU frequency vocabulary), access rights, contact point, spatial and
temporal coverage, issued/modified, and one ``dcat:Distribution`` whose ``dcat:accessURL`` is the
resource's page on this node (the API call, once the exchange opens it, appears as
``dcat:accessService`` later).
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from tongban.catalog.models import Resource

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCAT_VERSION = URIRef(f"{DCAT}version")  # DCAT 3; rdflib's DCAT namespace predates it
EU = "http://publications.europa.eu/resource/authority/"
THEMES = {
    "population": "SOCI", "legal_entity": "ECON", "natural_resources": "ENVI", "economy": "ECON",
    "credit": "ECON", "licences": "GOVE", "health": "HEAL", "social_security": "SOCI", "civil_affairs": "SOCI",
    "market": "ECON", "transport": "TRAN", "education": "EDUC", "environment": "ENVI", "government": "GOVE",
}
FREQUENCIES = {
    "realtime": "CONT", "daily": "DAILY", "weekly": "WEEKLY", "monthly": "MONTHLY", "quarterly": "QUARTERLY",
    "yearly": "ANNUAL", "irregular": "IRREG",
}
ACCESS_RIGHTS = {"open": "PUBLIC", "conditional": "RESTRICTED", "closed": "NON_PUBLIC"}
FILE_TYPES = {"spreadsheet": "XLSX", "document": "PDF", "database": "CSV", "api": "JSON", "image": "PNG",
              "media": "MP4", "other": "BIN"}
CONTEXT = {
    "dcat": str(DCAT), "dct": str(DCTERMS), "foaf": str(FOAF), "vcard": str(VCARD), "skos": str(SKOS),
    "xsd": str(XSD),
}


def build_graph(resources: list[Resource], base_url: str, *, publisher_name: str, region: str) -> Graph:
    base = base_url.rstrip("/")
    graph = Graph()
    for prefix, namespace in CONTEXT.items():
        graph.bind(prefix, namespace)
    catalog = URIRef(f"{base}/catalog.jsonld")
    graph.add((catalog, RDF.type, DCAT.Catalog))
    graph.add((catalog, DCTERMS.title, Literal("通办开放数据目录", lang="zh")))
    graph.add((catalog, DCTERMS.title, Literal("Tongban open data catalog", lang="en")))
    graph.add((catalog, DCTERMS.description, Literal(
        f"行政区划 {region} 的政务数据资源目录中向社会开放的资源。", lang="zh")))
    graph.add((catalog, DCTERMS.description, Literal(
        f"Government data resources of region {region} that are open to the public.", lang="en")))
    graph.add((catalog, FOAF.homepage, URIRef(f"{base}/open-data/")))
    graph.add((catalog, DCTERMS.language, URIRef(f"{EU}language/ZHO")))
    catalog_publisher = URIRef(f"{base}/#publisher")
    graph.add((catalog, DCTERMS.publisher, catalog_publisher))
    graph.add((catalog_publisher, RDF.type, FOAF.Agent))
    graph.add((catalog_publisher, FOAF.name, Literal(publisher_name, lang="zh")))
    agents: dict[int, URIRef] = {}
    for resource in resources:
        dataset = URIRef(f"{base}/catalog/{resource.code}/")
        graph.add((catalog, DCAT.dataset, dataset))
        graph.add((dataset, RDF.type, DCAT.Dataset))
        graph.add((dataset, DCTERMS.identifier, Literal(resource.code)))
        graph.add((dataset, DCTERMS.title, Literal(resource.name, lang="zh")))
        if resource.name_en:
            graph.add((dataset, DCTERMS.title, Literal(resource.name_en, lang="en")))
        graph.add((dataset, DCTERMS.description, Literal(resource.abstract, lang="zh")))
        graph.add((dataset, DCAT_VERSION, Literal(str(resource.version))))
        department = resource.department
        agent = agents.get(department.pk)
        if agent is None:
            agent = agents[department.pk] = URIRef(f"{base}/catalog/?department={department.code}#agent")
            graph.add((agent, RDF.type, FOAF.Agent))
            graph.add((agent, FOAF.name, Literal(department.name, lang="zh")))
            if department.name_en:
                graph.add((agent, FOAF.name, Literal(department.name_en, lang="en")))
        graph.add((dataset, DCTERMS.publisher, agent))
        for keyword in resource.keywords:
            graph.add((dataset, DCAT.keyword, Literal(keyword, lang="zh")))
        if resource.theme:
            graph.add((dataset, DCAT.theme, URIRef(f"{EU}data-theme/{THEMES.get(resource.theme, 'GOVE')}")))
        graph.add((dataset, DCTERMS.accrualPeriodicity,
                   URIRef(f"{EU}frequency/{FREQUENCIES.get(resource.update_cycle, 'UNKNOWN')}")))
        graph.add((dataset, DCTERMS.accessRights, URIRef(f"{EU}access-right/{ACCESS_RIGHTS[resource.opening]}")))
        if resource.published_at:
            graph.add((dataset, DCTERMS.issued, Literal(resource.published_at.date().isoformat(),
                                                        datatype=XSD.date)))
        graph.add((dataset, DCTERMS.modified, Literal(resource.updated_at.date().isoformat(), datatype=XSD.date)))
        if resource.spatial:
            location = BNode()
            graph.add((dataset, DCTERMS.spatial, location))
            graph.add((location, RDF.type, DCTERMS.Location))
            graph.add((location, DCTERMS.identifier, Literal(resource.spatial)))
        if resource.temporal_start:
            period = BNode()
            graph.add((dataset, DCTERMS.temporal, period))
            graph.add((period, RDF.type, DCTERMS.PeriodOfTime))
            graph.add((period, DCAT.startDate, Literal(resource.temporal_start.isoformat(), datatype=XSD.date)))
            if resource.temporal_end:
                graph.add((period, DCAT.endDate, Literal(resource.temporal_end.isoformat(), datatype=XSD.date)))
        if resource.contact_name or resource.contact_email or resource.contact_phone:
            contact = BNode()
            graph.add((dataset, DCAT.contactPoint, contact))
            graph.add((contact, RDF.type, VCARD.Kind))
            graph.add((contact, VCARD.fn, Literal(resource.contact_name or department.name)))
            if resource.contact_email:
                graph.add((contact, VCARD.hasEmail, URIRef(f"mailto:{resource.contact_email}")))
            if resource.contact_phone:
                graph.add((contact, VCARD.hasTelephone, URIRef(f"tel:{resource.contact_phone.replace(' ', '')}")))
        for related in resource.related_codes:
            graph.add((dataset, DCTERMS.relation, URIRef(f"{base}/catalog/{related}/")))
        distribution = URIRef(f"{base}/catalog/{resource.code}/#distribution")
        graph.add((dataset, DCAT.distribution, distribution))
        graph.add((distribution, RDF.type, DCAT.Distribution))
        graph.add((distribution, DCAT.accessURL, URIRef(f"{base}/catalog/{resource.code}/")))
        graph.add((distribution, DCTERMS.title, Literal(f"{resource.name}（{resource.get_sharing_method_display()}）",
                                                        lang="zh")))
        graph.add((distribution, DCTERMS.format, URIRef(f"{EU}file-type/{FILE_TYPES.get(resource.format, 'BIN')}")))
    return graph


def open_catalog_jsonld(base_url: str) -> str:
    from django.conf import settings

    from tongban.identity.models import Department

    resources = list(Resource.objects.filter(status=Resource.Status.PUBLISHED,
                                             opening__in=(Resource.Opening.OPEN, Resource.Opening.CONDITIONAL))
                     .select_related("department").order_by("code"))
    bureau = Department.objects.filter(is_bureau=True).order_by("pk").first()
    publisher = bureau.name if bureau else f"tongban {settings.TONGBAN_REGION}"
    graph = build_graph(resources, base_url, publisher_name=publisher, region=settings.TONGBAN_REGION)
    return graph.serialize(format="json-ld", context=CONTEXT, indent=1, ensure_ascii=False)
