# ragd in a container: docker compose up (see docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ragd ./cmd/ragd && mkdir -p /out/data

# Debian rather than distroless: OCR runs tesseract and poppler's pdftoppm
# (from the extraction child, under its limits). RAGD_OCR=off without them.
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-eng poppler-utils ca-certificates \
 && rm -rf /var/lib/apt/lists/*
USER 65532:65532
COPY --from=build /out/ragd /usr/local/bin/ragd
# The data directory must exist, owned by the nonroot user, before a volume
# is mounted on it, or the volume comes up owned by root.
COPY --from=build --chown=65532:65532 /out/data /var/lib/ragd
ENV RAGD_ADDR=:8080 RAGD_DATA_DIR=/var/lib/ragd
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ragd"]
CMD ["serve"]
