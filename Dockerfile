# syntax=docker/dockerfile:1
# The Cairn server as a container image, built from the repository root:
#   docker build -t cairn .
#   docker run -p 5000:5000 -v cairn-data:/data cairn
# Flags after the image name are added to `cairn server` (e.g. `--backend-store-uri postgresql://...`); settings also come
# from Cairn__* variables (Cairn__Limits__MaxRequestBodyBytes=...). The versions are pinned; bump them together.
# Access control is on: the first start creates the admin (CAIRN_ADMIN_USERNAME, default admin) with CAIRN_ADMIN_PASSWORD,
# or writes a one-time password to /data/initial-admin-password and logs that path.
ARG SDK_VERSION=10.0.100
ARG RUNTIME_VERSION=10.0.12

FROM mcr.microsoft.com/dotnet/sdk:${SDK_VERSION} AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/ src/
# The NuGet cache survives between builds (BuildKit); framework-dependent and without the native launcher, so the
# output runs on any architecture the runtime image has.
RUN --mount=type=cache,target=/root/.nuget/packages \
    dotnet publish src/Cairn.Cli -c Release -o /app -p:UseAppHost=false

FROM mcr.microsoft.com/dotnet/aspnet:${RUNTIME_VERSION} AS runtime
WORKDIR /app
COPY --from=build /app ./
# CAIRN_HOME holds the SQLite database and the artifacts: a volume, owned by the image's non-root user.
# The runtime image's own default port (ASPNETCORE_HTTP_PORTS=8080) is cleared: Cairn listens where Cairn__Server__Port says.
ENV CAIRN_HOME=/data \
    Cairn__Server__Port=5000 \
    ASPNETCORE_HTTP_PORTS=
RUN mkdir -p /data && chown app:app /data
VOLUME /data
# "app" (uid 1654) is the unprivileged user the .NET runtime images ship.
USER app
EXPOSE 5000
# The runtime image has no curl; bash's /dev/tcp asks /health/live and checks the status line.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${Cairn__Server__Port:-5000} && printf 'GET /health/live HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["dotnet", "cairn.dll", "server", "--host", "0.0.0.0", "--auth"]
