//! The client secret in AWS Secrets Manager: the connector's [`connector::ClientSecretSource`].

use crate::app::StartupError;

/// The client secret in Secrets Manager, at the ARN [`crate::config::SECRET_ARN_VAR`] names (the secret's whole
/// `SecretString`): read at start, and again when the token endpoint refuses the one in use (the secret was put or
/// rotated after this instance started).
#[derive(Debug)]
pub(crate) struct SecretsManagerSecret {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
}

impl SecretsManagerSecret {
    pub(crate) fn new(sdk: &aws_config::SdkConfig, arn: &str) -> Self {
        Self {
            client: aws_sdk_secretsmanager::Client::new(sdk),
            arn: arn.to_owned(),
        }
    }

    pub(crate) async fn get(&self) -> Result<secrecy::SecretString, StartupError> {
        let secret_error = |message: String| StartupError::Secret {
            arn: self.arn.clone(),
            message,
        };
        let answer = self
            .client
            .get_secret_value()
            .secret_id(&self.arn)
            .send()
            .await
            .map_err(|e| secret_error(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?;
        let secret = answer
            .secret_string()
            .ok_or_else(|| secret_error("the secret has no SecretString".to_owned()))?;
        Ok(secrecy::SecretString::from(secret.to_owned()))
    }
}

#[async_trait::async_trait]
impl connector::ClientSecretSource for SecretsManagerSecret {
    async fn read(&self) -> Result<secrecy::SecretString, String> {
        self.get().await.map_err(|e| e.to_string())
    }
}
