# reesim's web service and dashboard on the embedded data.
#   docker build -t reesim .
#   docker run -p 8000:8000 -v reesim-jobs:/data reesim
# then open http://localhost:8000/ (API schema at /docs). Nothing is fetched at run time.
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 reesim
WORKDIR /opt/reesim
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && mkdir -p /data && chown reesim /data

USER reesim
ENV REESIM_SERVE_HOME=/data REESIM_CACHE_DIR=/home/reesim/.cache/reesim
VOLUME ["/data"]
EXPOSE 8000
CMD ["reesim", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
