package extract

// OpenDocument namespaces (ODT, ODS, ODP, zipped or flat); the walkers
// match element names by their local names in these.
const (
	odfOfficeNS       = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
	odfTextNS         = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
	odfTableNS        = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
	odfStyleNS        = "urn:oasis:names:tc:opendocument:xmlns:style:1.0"
	odfDrawNS         = "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
	odfPresentationNS = "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0"
	odfSVGNS          = "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"
	odfDCNS           = "http://purl.org/dc/elements/1.1/"
)
