# One image for the Spark master, the workers and the driver (`submit`), so that driver and
# executors run the same Python and the same sparkkit. Used by docker-compose.yml.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/sparkkit
COPY pyproject.toml README.md ./
COPY sparkkit ./sparkkit
COPY conf ./conf
COPY jobs ./jobs
RUN python -m pip install '.[fast]'

# spark-class and spark-submit come with the pyspark wheel.
ENV SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/usr/local/bin/python \
    PYSPARK_DRIVER_PYTHON=/usr/local/bin/python \
    SPARKKIT_CONF_DIR=/opt/sparkkit/conf \
    SPARK_CONF_DIR=/opt/sparkkit/conf
ENV PATH=$SPARK_HOME/bin:$PATH
