# ragd in a container: docker compose up (see docker-compose.yml).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/ragd ./cmd/ragd && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ragd /usr/local/bin/ragd
# The data directory must exist, owned by the nonroot user, before a volume
# is mounted on it, or the volume comes up owned by root.
COPY --from=build --chown=65532:65532 /out/data /var/lib/ragd
ENV RAGD_ADDR=:8080 RAGD_DATA_DIR=/var/lib/ragd
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/ragd"]
CMD ["serve"]
